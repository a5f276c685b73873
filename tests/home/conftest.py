"""A real Mosquitto per test on a free loopback port (never 1883), with optional login and TLS.

Skips the broker tests when ``mosquitto`` is not installed. As root, Mosquitto would drop to
user ``mosquitto`` and then fail to read files under pytest's private temp dirs, so the
config says ``user root`` when running as root.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from assistant.config.schema import MqttConfig

from ..conftest import free_port
from . import fixtures

needs_mosquitto = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")


class Broker:
    """One mosquitto process; ``stop()``/``start()`` keep the same port (for reconnect tests)."""

    def __init__(self, workdir: Path, users: dict[str, str] | None = None, tls: bool = False,
                 client_certs: bool = False, extra_config: tuple[str, ...] = ()) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = tls or client_certs
        self.client_certs = client_certs
        self.users = users or {}
        self.extra_config = extra_config
        self.proc: subprocess.Popen[bytes] | None = None
        self.ca_file = str(self.dir / "ca.pem")
        self._write_config()

    def _write_config(self) -> None:
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr"]
        if os.geteuid() == 0:
            lines.insert(0, "user root")
        if self.users:
            pw = self.dir / "passwd"
            pw.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            make_certificates(self.dir)
            d = self.dir
            lines += [f"cafile {d / 'ca.pem'}", f"certfile {d / 'server.pem'}", f"keyfile {d / 'server.key'}"]
            if self.client_certs:
                lines += ["require_certificate true"]
        lines += self.extra_config
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        log = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.dir / "mosquitto.conf")], stdout=log, stderr=log)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start: {(self.dir / 'mosquitto.log').read_text()[-500:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None

    def config(self, **overrides: object) -> MqttConfig:
        base = MqttConfig(host="127.0.0.1", port=self.port, client_id="test-assistant", connect_timeout_s=5.0,
                          state_echo_timeout_s=0.3, publish_timeout_s=2.0, tls=self.tls,
                          ca_file=self.ca_file if self.tls else "")
        return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]

    def client(self, client_id: str = "", **login: str) -> TestClient:
        return TestClient(self, client_id, **login)


class TestClient:
    """A plain paho client playing the devices and Home Assistant: publishes and records messages."""

    __test__ = False

    def __init__(self, broker: Broker, client_id: str = "", username: str = "", password: str = "") -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self.qos: dict[str, int] = {}
        self._cond = threading.Condition()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            self.c.username_pw_set(username, password)
        if broker.tls:
            cert, key = (str(broker.dir / "client.pem"), str(broker.dir / "client.key")) if broker.client_certs else (None, None)
            self.c.tls_set(ca_certs=broker.ca_file, certfile=cert, keyfile=key)
        self.c.on_message = self._on_message
        self.c.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()

    def _on_message(self, client: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))
            self.qos[msg.topic] = msg.qos
            self._cond.notify_all()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos=1)
        assert done.wait(5), "SUBACK not received"

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def wait_for(self, topic: str, timeout: float = 5.0) -> list[tuple[str, str, bool]]:
        """Every message received on ``topic`` so far, waiting up to ``timeout`` for the first one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(t == topic for t, _, _ in self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return [m for m in self.messages if m[0] == topic]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def make_certificates(d: Path) -> None:
    """A CA and a server certificate for 127.0.0.1, made with openssl at test time."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
        "-subj", "/CN=test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-out", "server.pem", "-extfile", "ext.cnf")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=assistant")
    (d / "client.cnf").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-out", "client.pem", "-extfile", "client.cnf")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def home_broker(broker: Broker) -> Iterator[Broker]:
    """A broker already holding the retained fixture devices (HA, zigbee2mqtt and Tasmota)."""
    client = broker.client("fixture-loader")
    for topic, payload in fixtures.retained().items():
        client.publish(topic, payload, retain=True)
    client.close()
    yield broker
