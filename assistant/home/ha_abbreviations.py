"""Home Assistant MQTT discovery abbreviations (the subset an assistant reads), expanded before use.

After home-assistant/core ``homeassistant/components/mqtt/abbreviations.py``.
"""

from __future__ import annotations

from typing import Any

ABBREVIATIONS = {
    "act_t": "action_topic", "act_tpl": "action_template",
    "atype": "automation_type", "aux_cmd_t": "aux_command_topic",
    "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "bri_cmd_t": "brightness_command_topic", "bri_cmd_tpl": "brightness_command_template",
    "bri_scl": "brightness_scale", "bri_stat_t": "brightness_state_topic", "bri_val_tpl": "brightness_value_template",
    "clr_temp_cmd_tpl": "color_temp_command_template", "clr_temp_cmd_t": "color_temp_command_topic",
    "clr_temp_stat_t": "color_temp_state_topic", "clr_temp_val_tpl": "color_temp_value_template",
    "clr_mode_stat_t": "color_mode_state_topic", "clr_mode_val_tpl": "color_mode_value_template",
    "clr_temp_k": "color_temp_kelvin",
    "cmps": "components",
    "cmd_off_tpl": "command_off_template", "cmd_on_tpl": "command_on_template",
    "cmd_t": "command_topic", "cmd_tpl": "command_template",
    "cod_arm_req": "code_arm_required", "cod_dis_req": "code_disarm_required",
    "curr_temp_t": "current_temperature_topic", "curr_temp_tpl": "current_temperature_template",
    "dev": "device", "dev_cla": "device_class", "def_ent_id": "default_entity_id",
    "en": "enabled_by_default", "ent_cat": "entity_category", "ent_pic": "entity_picture",
    "fx_cmd_t": "effect_command_topic", "fx_list": "effect_list",
    "hs_cmd_t": "hs_command_topic", "hs_cmd_tpl": "hs_command_template", "hs_stat_t": "hs_state_topic",
    "hs_val_tpl": "hs_value_template",
    "ic": "icon", "json_attr": "json_attributes", "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "max_mirs": "max_mireds", "min_mirs": "min_mireds", "max_temp": "max_temp", "min_temp": "min_temp",
    "max_kmw": "max_kelvin", "min_kmw": "min_kelvin",
    "mode_cmd_t": "mode_command_topic", "mode_cmd_tpl": "mode_command_template",
    "mode_stat_t": "mode_state_topic", "mode_stat_tpl": "mode_state_template", "modes": "modes",
    "name": "name", "obj_id": "object_id", "o": "origin", "opt": "optimistic",
    "pl_arm_away": "payload_arm_away", "pl_arm_home": "payload_arm_home", "pl_arm_nite": "payload_arm_night",
    "pl_arm_vacation": "payload_arm_vacation", "pl_arm_custom_b": "payload_arm_custom_bypass",
    "pl_avail": "payload_available", "pl_cls": "payload_close", "pl_disarm": "payload_disarm",
    "pl_lock": "payload_lock", "pl_not_avail": "payload_not_available", "pl_off": "payload_off",
    "pl_on": "payload_on", "pl_open": "payload_open", "pl_stop": "payload_stop", "pl_unlk": "payload_unlock",
    "pl_toggle": "payload_toggle",
    "pos_clsd": "position_closed", "pos_open": "position_open", "pos_t": "position_topic", "pos_tpl": "position_template",
    "pct_cmd_t": "percentage_command_topic", "pct_cmd_tpl": "percentage_command_template",
    "pct_stat_t": "percentage_state_topic", "pct_val_tpl": "percentage_value_template",
    "pr_mode_cmd_t": "preset_mode_command_topic", "pr_modes": "preset_modes",
    "ret": "retain", "rgb_cmd_t": "rgb_command_topic", "rgb_cmd_tpl": "rgb_command_template",
    "rgb_stat_t": "rgb_state_topic", "rgb_val_tpl": "rgb_value_template",
    "schema": "schema", "set_pos_t": "set_position_topic", "set_pos_tpl": "set_position_template",
    "stat_clsd": "state_closed", "stat_closing": "state_closing", "stat_off": "state_off", "stat_on": "state_on",
    "stat_open": "state_open", "stat_opening": "state_opening", "stat_stopped": "state_stopped",
    "stat_locked": "state_locked", "stat_unlocked": "state_unlocked", "stat_locking": "state_locking",
    "stat_unlocking": "state_unlocking", "stat_jammed": "state_jammed",
    "stat_t": "state_topic", "stat_tpl": "state_template", "stat_val_tpl": "state_value_template",
    "sup_clrm": "supported_color_modes", "sup_feat": "supported_features",
    "temp_cmd_t": "temperature_command_topic", "temp_cmd_tpl": "temperature_command_template",
    "temp_stat_t": "temperature_state_topic", "temp_stat_tpl": "temperature_state_template",
    "temp_unit": "temperature_unit", "temp_step": "temp_step", "precision": "precision",
    "uniq_id": "unique_id", "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
    "xy_cmd_t": "xy_command_topic", "xy_cmd_tpl": "xy_command_template", "xy_stat_t": "xy_state_topic",
    "xy_val_tpl": "xy_value_template", "p": "platform", "pl_prs": "payload_press",
    "t": "topic", "brgt": "brightness", "clrm": "color_mode",
    "ent_id": "entity_id", "e": "encoding", "qos": "qos",
}

DEVICE_ABBREVIATIONS = {
    "cns": "connections", "ids": "identifiers", "name": "name", "mf": "manufacturer", "mdl": "model",
    "mdl_id": "model_id", "hw": "hw_version", "sw": "sw_version", "sa": "suggested_area", "via_device": "via_device",
    "cu": "configuration_url", "sn": "serial_number",
}

ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version", "url": "support_url"}


def expand(payload: dict[str, Any]) -> dict[str, Any]:
    """Expand abbreviated keys at the top level, in ``device``, ``origin``, ``availability`` and ``components``."""
    out = {ABBREVIATIONS.get(k, k): v for k, v in payload.items()}
    if isinstance(out.get("device"), dict):
        out["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in out["device"].items()}
    if isinstance(out.get("origin"), dict):
        out["origin"] = {ORIGIN_ABBREVIATIONS.get(k, k): v for k, v in out["origin"].items()}
    if isinstance(out.get("availability"), list):
        out["availability"] = [
            {ABBREVIATIONS.get(k, k): v for k, v in a.items()} if isinstance(a, dict) else a for a in out["availability"]
        ]
    if isinstance(out.get("components"), dict):
        out["components"] = {
            cid: expand(c) if isinstance(c, dict) else c for cid, c in out["components"].items()
        }
    return out


def expand_base_topic(payload: dict[str, Any]) -> dict[str, Any]:
    """Replace a leading or trailing ``~`` in every ``*_topic`` (and availability ``topic``) with ``payload["~"]``."""
    base = payload.get("~")
    if not isinstance(base, str):
        return payload

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith("~"):
                return base + value[1:]
            if value.endswith("~"):
                return value[:-1] + base
        return value

    out = {k: fix(v) if k.endswith("_topic") or k == "topic" else v for k, v in payload.items()}
    if isinstance(out.get("availability"), list):
        out["availability"] = [
            {k: fix(v) if k == "topic" else v for k, v in a.items()} if isinstance(a, dict) else a for a in out["availability"]
        ]
    return out
