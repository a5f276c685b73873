"""``assistant doctor`` checks of the smart home: which devices the broker's discovery offers.

Connects under its own client id and without announcing itself, so a running service is undisturbed.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

from assistant.config import Config
from assistant.errors import AssistantError

Outcome = tuple[str, str, str]
DISCOVERY_QUIET_S, DISCOVERY_TIMEOUT_S = 0.5, 5.0


def devices(config: Config) -> Outcome:
    if not config.mqtt.enabled:
        return "skip", "MQTT is switched off (mqtt.enabled = false)", ""
    from assistant.home.home import open_home

    cfg = dataclasses.replace(config.mqtt, announce=False)
    try:
        home = open_home(cfg, require_broker=True, client_id=f"{cfg.client_id}-doctor")
    except AssistantError as err:  # the 'broker' check reports it, with its fix
        return "skip", f"not checked: {err}", ""
    try:
        home.wait_for_discovery(DISCOVERY_QUIET_S, DISCOVERY_TIMEOUT_S)
        found = home.registry.devices()
    finally:
        home.close()
    if not found:
        return ("warn", "no devices discovered",
                "turn on Home Assistant discovery in zigbee2mqtt, or Tasmota discovery (SetOption19 0); "
                f"check mqtt.discovery_prefix ({cfg.discovery_prefix}) and mqtt.z2m_base_topic ({cfg.z2m_base_topic})")
    kinds = Counter(d.kind for d in found)
    shown = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    return "ok", f"{len(found)} devices discovered ({shown}); list them with 'assistant devices mqtt'", ""


def doctor_checks() -> list[tuple[str, Callable[[Config], Outcome]]]:
    return [("devices", devices)]
