"""A generated home on a real Mosquitto, and spoken commands for it (``assistant bench turn``).

``home_messages(n)`` is the retained Home Assistant discovery of ``n`` devices (lights with brightness,
switches, covers with a position, thermostats, temperature sensors) spread over rooms, as a real
publisher announces them. ``COMMANDS`` are what a user says to the first devices (switch, dim, cover,
climate, a question), present in every generated home of at least 20 devices. ``Mosquitto`` runs one
broker on a free loopback port in a private directory (never 1883).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError

ROOMS = ("kitchen", "living room", "bedroom", "office", "hallway", "bathroom", "dining room", "garage", "nursery",
         "guest room", "attic", "basement", "porch", "garden", "laundry", "study", "landing", "pantry", "den", "loft")
KINDS = ("light", "switch", "cover", "climate", "sensor")
NOUNS = {"light": "light", "switch": "plug", "cover": "blind", "climate": "thermostat", "sensor": "sensor"}
PREFIX = "homeassistant"


@dataclass(frozen=True)
class GeneratedDevice:
    kind: str
    name: str  # "Kitchen light", "Kitchen light 2"
    object_id: str  # kitchen_light_2


def devices(n: int) -> list[GeneratedDevice]:
    """``n`` devices: kinds in turn, a room per five devices, numbered once the rooms run out."""
    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        room = ROOMS[(i // len(KINDS)) % len(ROOMS)]
        lap = i // (len(KINDS) * len(ROOMS))
        name = f"{room} {NOUNS[kind]}" + (f" {lap + 1}" if lap else "")
        out.append(GeneratedDevice(kind, name[0].upper() + name[1:], name.replace(" ", "_")))
    return out


def _discovery(d: GeneratedDevice) -> dict[str, object]:
    base = f"bench/{d.object_id}"
    cfg: dict[str, object] = {"name": d.name, "uniq_id": f"bench_{d.object_id}", "dev": {"ids": [d.object_id], "name": d.name}}
    if d.kind == "light":
        cfg |= {"cmd_t": f"{base}/set", "stat_t": f"{base}/state", "bri_cmd_t": f"{base}/brightness/set",
                "bri_stat_t": f"{base}/brightness", "bri_scl": 100}
    elif d.kind == "switch":
        cfg |= {"cmd_t": f"{base}/set", "stat_t": f"{base}/state"}
    elif d.kind == "cover":
        cfg |= {"cmd_t": f"{base}/set", "set_pos_t": f"{base}/position/set", "pos_t": f"{base}/position"}
    elif d.kind == "climate":
        cfg |= {"temp_cmd_t": f"{base}/target/set", "temp_stat_t": f"{base}/target", "curr_temp_t": f"{base}/current",
                "modes": ["off", "heat", "auto"], "mode_cmd_t": f"{base}/mode/set", "mode_stat_t": f"{base}/mode",
                "min_temp": 5, "max_temp": 30, "temp_step": 0.5}
    else:
        cfg |= {"stat_t": f"{base}/temperature", "unit_of_meas": "°C", "dev_cla": "temperature"}
    return cfg


def home_messages(n: int) -> dict[str, str]:
    """Retained discovery (and a first state for sensors and thermostats) of a generated ``n``-device home."""
    out: dict[str, str] = {}
    for d in devices(n):
        out[f"{PREFIX}/{d.kind}/{d.object_id}/config"] = json.dumps(_discovery(d))
        if d.kind == "sensor":
            out[f"bench/{d.object_id}/temperature"] = "20.5"
        elif d.kind == "climate":
            out[f"bench/{d.object_id}/current"] = "19.0"
    return out


# What a user says, by kind of command; every device named is among the first 20 of any generated home.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("switch", "turn on the kitchen light"),
    ("switch", "switch off the kitchen plug"),
    ("switch", "turn off the living room light"),
    ("switch", "switch on the living room plug"),
    ("switch", "turn on the bedroom plug"),
    ("dim", "dim the kitchen light to thirty percent"),
    ("dim", "set the living room light to fifty percent"),
    ("dim", "make the bedroom light brighter"),
    ("dim", "dim the office light"),
    ("cover", "open the kitchen blind"),
    ("cover", "close the living room blind"),
    ("cover", "set the bedroom blind to half way"),
    ("cover", "open the office blind"),
    ("climate", "set the kitchen thermostat to twenty one degrees"),
    ("climate", "make the living room thermostat warmer"),
    ("climate", "set the bedroom thermostat to eighteen"),
    ("climate", "turn the office thermostat off"),
    ("question", "what is the temperature in the kitchen"),
    ("question", "is the living room light on"),
    ("question", "how warm is it in the bedroom"),
    ("question", "is the office blind open"),
    ("switch", "turn off the office plug"),
)


class Mosquitto:
    """One ``mosquitto`` on a free loopback port, in a temporary directory; ``close`` ends it."""

    def __init__(self) -> None:
        exe = shutil.which("mosquitto")
        if exe is None:
            raise AssistantError("mosquitto is not installed (apt-get install mosquitto)")
        self.dir = Path(tempfile.mkdtemp(prefix="assistant-bench-mqtt-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "allow_anonymous true", "log_dest stderr"]
        if os.geteuid() == 0:
            lines.insert(0, "user root")
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self._log = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([exe, "-c", str(self.dir / "mosquitto.conf")], stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise AssistantError("mosquitto did not start") from None
                time.sleep(0.05)

    def publish_retained(self, messages: dict[str, str]) -> None:
        """Publish ``messages`` retained (QoS 1) and wait until the broker has them all."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-home-loader")
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        try:
            infos = [client.publish(topic, payload, qos=1, retain=True) for topic, payload in messages.items()]
            for info in infos:
                info.wait_for_publish(5.0)
        finally:
            client.loop_stop()
            client.disconnect()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
