"""Checks that go over the network: the MQTT broker (connect and log in) and the remote tiers."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request
from typing import Any

from assistant.config import Config
from assistant.config.schema import RemoteTierConfig
from assistant.service.doctor import Result

CONNECT_TIMEOUT_S = 5.0


def broker(config: Config) -> Result:
    """Connect and log in the way the assistant will (TLS, user, password); report what the broker said."""
    m = config.mqtt
    if not m.enabled:
        return Result.skip("mqtt.enabled = false")
    import paho.mqtt.client as mqtt

    where = f"{m.host}:{m.port}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{m.client_id}-doctor")
    if m.username:
        client.username_pw_set(m.username, m.password or None)
    if m.tls:
        client.tls_set(ca_certs=m.ca_file or None)
    answered = threading.Event()
    answer: dict[str, Any] = {}

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        answer["reason"] = reason
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=10)
    except (OSError, ssl.SSLError) as err:
        return Result.fail(f"cannot reach {where}: {_reason(err)}",
                           "is the broker running (e.g. 'systemctl status mosquitto')? check mqtt.host and mqtt.port")
    client.loop_start()
    try:
        if not answered.wait(CONNECT_TIMEOUT_S):
            return Result.fail(f"{where} did not answer within {CONNECT_TIMEOUT_S:.0f} s",
                               "check mqtt.tls (a TLS port needs tls = true) and the firewall")
        reason = answer["reason"]
        if reason.is_failure:
            if reason.value in (0x86, 0x87, 4, 5):  # bad user name or password / not authorized
                return Result.fail(f"{where} refused the login: {reason}",
                                   "check mqtt.username and the password in mqtt.password_file")
            return Result.fail(f"{where} refused the connection: {reason}", "see the broker's log")
        who = f" as {m.username}" if m.username else " anonymously"
        return Result.ok(f"connected to {where}{who}" + (" over TLS" if m.tls else ""))
    finally:
        client.disconnect()
        client.loop_stop()


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def remote_tiers(config: Config) -> Result:
    """Ask each remote tier for its models (``GET /models``, OpenAI-compatible)."""
    if not config.tiers.remote:
        return Result.skip("none configured")
    if config.tiers.privacy == "off":
        return Result.skip("tiers.privacy = off: nothing leaves the device")
    failed: list[str] = []
    warned: list[str] = []
    fine: list[str] = []
    for tier in config.tiers.remote:
        status, text = _probe(tier)
        (fine if status == "ok" else warned if status == "warn" else failed).append(f"{tier.name}: {text}")
    detail = "; ".join(failed + warned + fine)
    if failed:
        return Result.fail(detail, "start the server on that machine, or fix url / api_key_file in [[tiers.remote]]")
    if warned:
        return Result.warn(detail, "set model in [[tiers.remote]] to one the server lists")
    return Result.ok(detail)


def _probe(tier: RemoteTierConfig) -> tuple[str, str]:
    request = urllib.request.Request(tier.url.rstrip("/") + "/models")
    if tier.api_key:
        request.add_header("Authorization", f"Bearer {tier.api_key}")
    try:
        with urllib.request.urlopen(request, timeout=min(tier.timeout_s, CONNECT_TIMEOUT_S)) as response:
            body = json.loads(response.read().decode("utf-8", "replace") or "{}")
    except urllib.error.HTTPError as err:
        if err.code in (401, 403):
            return "fail", f"{tier.url} refused the API key (HTTP {err.code})"
        return "fail", f"{tier.url} answered HTTP {err.code}"
    except (TimeoutError, urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return "fail", f"cannot reach {tier.url} ({_reason(reason) if isinstance(reason, BaseException) else reason})"
    except json.JSONDecodeError:
        return "fail", f"{tier.url}/models did not return JSON (is it an OpenAI-compatible API?)"
    models = [str(m.get("id", "")) for m in body.get("data", []) if isinstance(m, dict)] if isinstance(body, dict) else []
    if models and tier.model not in models:
        return "warn", f"reachable, but it does not list model '{tier.model}' (it has: {', '.join(models[:5])})"
    return "ok", f"reachable ({tier.url})"
