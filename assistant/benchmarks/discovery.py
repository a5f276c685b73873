"""``assistant bench discovery``: how long a home of N retained discovery configs takes to ingest.

A private Mosquitto (its default queue limits) is started on a free loopback port and loaded with N retained
Home Assistant configs (switches and lights with state, availability and command topics). Then the assistant's
own ``open_home`` connects, and the clock runs until every device is in the registry. Smaller homes (N/4, N/2)
are timed too, so the table shows whether the cost per device stays flat (linear ingestion).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.benchmarks.report import Report
from assistant.errors import AssistantError

TARGET_S = 10.0  # 10,000 devices


class UsageError(AssistantError):
    exit_code = 2


def config_payload(i: int) -> tuple[str, str]:
    """The retained topic and payload of synthetic device ``i``."""
    kind = "light" if i % 3 == 0 else "switch"
    base = f"bench/{kind}{i}"
    payload: dict[str, Any] = {"name": f"{kind} {i}", "unique_id": f"bench_{kind}_{i}", "command_topic": f"{base}/set",
               "state_topic": f"{base}/state", "availability_topic": f"{base}/availability",
               "device": {"identifiers": [f"bench_{i}"], "name": f"Bench {i}", "suggested_area": f"room {i % 40}"}}
    if kind == "light":
        payload.update(brightness_command_topic=f"{base}/brightness/set", brightness_scale=100)
    return f"homeassistant/{kind}/bench_{i}/config", json.dumps(payload)


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != 1883:
            return port


def publish_configs(port: int, n: int, first: int = 0) -> None:
    """Publish synthetic devices ``first .. first+n-1`` as retained configs to the broker on loopback ``port``."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-loader-{first}", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(*config_payload(i), qos=1, retain=True) for i in range(first, first + n)]
        for info in infos:
            info.wait_for_publish(60)
    finally:
        client.disconnect()
        client.loop_stop()


class PrivateBroker:
    """A throwaway Mosquitto with its default limits, listening on loopback only."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("mosquitto") is None:
            raise AssistantError("mosquitto is not installed (sudo apt install mosquitto); the benchmark needs a real broker")
        self.port = free_port()
        conf = workdir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "allow_anonymous true", "log_dest none"]
        if os.geteuid() == 0:
            lines.insert(0, "user root")
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssistantError("the private mosquitto did not start")

    def load(self, n: int) -> None:
        publish_configs(self.port, n)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def ingest(n: int, timeout_s: float = 120.0) -> dict[str, Any]:
    """Seconds (wall and CPU) from connecting until all ``n`` devices are in the registry, and how many arrived."""
    from assistant.config.schema import MqttConfig
    from assistant.home import open_home

    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as tmp:
        broker = PrivateBroker(Path(tmp))
        try:
            broker.load(n)
            cfg = MqttConfig(host="127.0.0.1", port=broker.port, client_id="bench-assistant", announce=False)
            cpu0, start = time.process_time(), time.monotonic()
            home = open_home(cfg, require_broker=True)
            try:
                count = 0
                while time.monotonic() - start < timeout_s:
                    if home.registry.announced() >= n:
                        count = len(home.registry.devices(include_hidden=True))  # the one rebuild, timed
                        break
                    time.sleep(0.05)
                wall, cpu = time.monotonic() - start, time.process_time() - cpu0
                home.wait_for_discovery(quiet_s=0.5, timeout=2.0)
                count = len(home.registry.devices(include_hidden=True))
            finally:
                home.close()
        finally:
            broker.stop()
    return {"devices": n, "ingested": count, "wall_s": wall, "cpu_s": cpu}


def run(args: Any) -> int:
    n = int(args.devices)
    if n < 4:
        raise UsageError("--devices must be at least 4")
    report = Report(f"discovery ingestion ({n} retained Home Assistant configs, private Mosquitto with default limits)")
    results = [ingest(max(1, n // 4)), ingest(n // 2), ingest(n)]
    full = results[-1]
    report.add("ingest_s", round(full["wall_s"], 2), "s", label=f"ingest {n} devices",
               target=f"< {TARGET_S:g} s for 10000" if n == 10000 else "", ok=full["wall_s"] < TARGET_S if n == 10000 else None)
    report.add("ingest_cpu_s", round(full["cpu_s"], 2), "s", label="CPU time of the assistant process")
    report.add("ingested", full["ingested"], "devices", label="devices in the registry", target=str(n),
               ok=full["ingested"] == n)
    for r in results:
        report.add(f"us_per_device_{r['devices']}", round(r["wall_s"] / r["devices"] * 1e6), "µs",
                   label=f"per device at {r['devices']}")
    small, big = results[0], results[-1]
    ratio = (big["wall_s"] / big["devices"]) / max(1e-9, small["wall_s"] / small["devices"])
    report.add("per_device_growth", round(ratio, 2), "x", label=f"per-device cost, {big['devices']} vs {small['devices']}",
               target="< 2 (linear)", ok=ratio < 2)
    report.notes.append("the wall time counts from connecting until the last device is listed (retained replay included)")
    return report.emit(args.json)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("discovery", help="time ingesting N retained discovery configs from a private broker")
    parser.add_argument("--devices", type=int, default=10000, metavar="N", help="devices in the largest home (default 10000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
