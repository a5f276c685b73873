"""Shared pieces of the end-to-end tests: speech WAVs, a device broker, the config, the checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.clips import espeak
from assistant.audio.wavfile import write_wav
from assistant.protocols import SAMPLE_RATE, ToolCall

from ..home import fixtures
from ..home.conftest import Broker


def speech_wav(path: Path, *phrases: str, gap_s: float = 0.9) -> Path:
    """``phrases`` spoken by espeak-ng with ``gap_s`` of silence around each, as one 16 kHz WAV."""
    parts: list[np.ndarray] = [np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)]
    for phrase in phrases:
        parts += [espeak(phrase), np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.int16)]
    write_wav(path, np.concatenate(parts))
    return path


FAN_CONFIG = "homeassistant/switch/attic_fan/config"
FAN = {FAN_CONFIG: json.dumps({"name": "Attic fan", "unique_id": "attic_fan", "command_topic": "attic/fan/set"})}
"""One switch that can only be switched (no state topic, so ``get_state`` is not offered for it)."""


def retained_devices(only_fan: bool = False) -> dict[str, str]:
    return FAN if only_fan else fixtures.retained()


def device_broker(directory: Path, only_fan: bool = False) -> Broker:
    """A real Mosquitto holding the fixture devices' retained discovery and state messages."""
    broker = Broker(directory)
    broker.start()
    loader = broker.client("fixture-loader")
    for topic, payload in retained_devices(only_fan).items():
        loader.publish(topic, payload, retain=True)
    loader.close()
    return broker


def write_config(path: Path, model: Path, state: Path, broker: Broker | None, clock: bool = False, **service: Any) -> Path:
    """A config for the tiny model, espeak TTS, the PulseAudio speaker and ``broker`` (None: MQTT off).
    The assistant's own tools (set_volume) are off unless asked for, and the timer and clock tools only with
    ``clock``: the forced call of the random tiny model must pick a device tool."""
    service.setdefault("own_tools", False)
    service_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in service.items())
    mqtt = (f'enabled = true\nhost = "127.0.0.1"\nport = {broker.port}\nclient_id = "e2e-assistant"\n'
            "state_echo_timeout_s = 0.3\nconnect_timeout_s = 3.0\n") if broker else "enabled = false\n"
    path.write_text(
        f'[model]\ndir = "{model}"\nmax_new_tokens = 48\nthreads = 1\n'
        f"[mqtt]\n{mqtt}"
        f'[service]\nstate_dir = "{state}"\nfollow_up_s = 0.0\n{service_lines}'
        f"[timers]\nenabled = {'true' if clock else 'false'}\n"
    )
    return path


def turns(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def expected_commands(actions: list[dict[str, Any]], only_fan: bool = False) -> set[tuple[str, str]]:
    """The (topic, payload) pairs the validator builds for the turn's tool calls, from discovery alone."""
    from assistant.home.validate import Action, validate

    registry = registry_of(only_fan)
    out: set[tuple[str, str]] = set()
    for a in actions:
        try:
            target = validate(ToolCall(a["tool"], a["arguments"]), registry)
        except Exception:
            continue
        if isinstance(target, Action) and not target.device.sensitive:
            out |= {(c.topic, c.payload) for c in target.commands}
    return out


def registry_of(only_fan: bool) -> Any:
    from assistant.home.registry import Registry

    registry = Registry()
    for topic, payload in retained_devices(only_fan).items():
        registry.handle(topic, payload)
    return registry


def known_command_topics(only_fan: bool = False) -> set[str]:
    return {t for d in registry_of(only_fan).devices() for t in d.command_topics()}
