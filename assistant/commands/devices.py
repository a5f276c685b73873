"""``assistant devices``: list the audio inputs and outputs (default), or the smart-home devices on MQTT."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from assistant.audio.devices import AudioDevice, list_audio_devices
from assistant.config import load_config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("devices", help="list audio inputs and outputs")
    parser.set_defaults(func=_audio)
    sub = parser.add_subparsers(dest="devices_command", metavar="KIND")
    audio = sub.add_parser("audio", help="audio inputs and outputs (the default)")
    audio.set_defaults(func=_audio)
    mqtt = sub.add_parser("mqtt", help="smart-home devices discovered on the MQTT broker, with their actions")
    mqtt.add_argument("--wait", type=float, default=1.0, metavar="S",
                      help="quiet time that ends the retained-discovery replay (default 1.0 s)")
    mqtt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mqtt.add_argument("--house", action="store_true",
                      help="only the assistants seen on the broker (each one's room and whether it is online)")
    mqtt.set_defaults(func=_mqtt)


def _audio(args: argparse.Namespace) -> int:
    devices = list_audio_devices()
    print(format_devices(devices))
    return 0


def format_devices(devices: list[AudioDevice]) -> str:
    if not devices:
        return "No audio devices found (is a microphone plugged in, and is the user in the 'audio' group?)"
    rows = ["kind    default  rate   ch_in ch_out  name"]
    for d in devices:
        kind = "in/out" if d.max_input_channels and d.max_output_channels else "in" if d.max_input_channels else "out"
        default = "*" if d.is_default_input or d.is_default_output else ""
        rows.append(
            f"{kind:<7} {default:^7}  {int(d.default_samplerate):<6} {d.max_input_channels:<5} "
            f"{d.max_output_channels:<6}  {d.name} ({d.hostapi})"
        )
    rows.append("Set audio.input_device / audio.output_device to a part of a name above.")
    return "\n".join(rows)


def _mqtt(args: argparse.Namespace) -> int:
    from assistant.home import open_home

    cfg = load_config(args.config).mqtt
    # Its own client id, so listing never kicks the running assistant off the broker; no announcing.
    cfg = dataclasses.replace(cfg, enabled=True, announce=False, arbitrate=False)
    home = open_home(cfg, require_broker=True, client_id=f"{cfg.client_id}-list")
    try:
        print(f"Reading discovery from {cfg.host}:{cfg.port} ...", flush=True, file=sys.stderr)
        home.wait_for_discovery(quiet_s=args.wait, timeout=max(10.0, args.wait * 4))
        rows = [_row(home.registry, d) for d in home.registry.devices(include_hidden=True)]
        house = [house_row(p, home.presence.node) for p in home.presence.house()]
    finally:
        home.close()
    if args.house:
        print(json.dumps(house, indent=2) if args.json else format_house(house))
    elif args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_home(rows) + ("\n\n" + format_house(house) if house else ""))
    return 0


def house_row(peer: Any, node: str) -> dict[str, Any]:
    online = "unknown" if peer.online is None else "yes" if peer.online else "no"
    return {"id": peer.id, "name": peer.name, "area": peer.area, "online": online, "version": peer.version,
            "arbitrate": peer.arbitrate, "this_config": peer.id == node}


def format_house(rows: list[dict[str, Any]]) -> str:
    """The assistants on the broker (``mqtt.client_id`` of each), for ``devices mqtt``."""
    if not rows:
        return "No assistant has announced itself on this broker yet."
    table = [("assistant", "area", "online", "wake claims", "version")]
    for r in rows:
        table.append((r["id"] + (" (this config)" if r["this_config"] else ""), r["area"] or "-", r["online"],
                      "yes" if r["arbitrate"] else "no", r["version"] or "-"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join([f"Assistants on this broker ({len(rows)}):", *lines])


def _row(registry: Any, d: Any) -> dict[str, Any]:
    available = registry.available(d)
    return {
        "id": d.id, "name": d.name, "kind": d.kind, "area": d.area, "source": d.source, "key": d.key,
        "available": "unknown" if available is None else "yes" if available else "no",
        "actions": [a.split("(")[0] if a.startswith("color") else a for a in d.actions()],
        "sensitive": d.sensitive, "hidden": d.hidden, "unsupported": d.unsupported,
    }


def format_home(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ("No devices found. Check mqtt.discovery_prefix, mqtt.z2m_base_topic and "
                "mqtt.tasmota_discovery_prefix, and that discovery is enabled on your hub.")
    header = ("id", "kind", "area", "online", "actions", "stable id (for the overrides file)")
    table = [header]
    for r in rows:
        actions = f"unsupported: {r['unsupported']}" if r["unsupported"] else " ".join(r["actions"]) or "-"
        flags = "".join([" [confirm]" if r["sensitive"] else "", " [hidden]" if r["hidden"] else ""])
        table.append((r["id"], r["kind"], r["area"] or "-", r["available"], actions + flags, r["key"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in table]
    hidden = sum(r["hidden"] for r in rows)
    unsupported = sum(bool(r["unsupported"]) for r in rows)
    lines.append(f"{len(rows)} devices ({hidden} hidden, {unsupported} unsupported).")
    return "\n".join(line.rstrip() for line in lines)
