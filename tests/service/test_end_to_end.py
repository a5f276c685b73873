"""End to end: espeak-ng speech through ``assistant run --wav`` with the tiny random model and a real Mosquitto.

The tiny model's words are meaningless, so its tool calls are forced into the registry's grammar
(``service.tool_grammar = "force"``): every turn must produce a call that names a real device, and
every message that reaches the broker must be exactly a command the validator builds for that call.
Wake word (micro-wakeword on the spoken "okay nabu"), VAD (WebRTC), endpointing, TTS (espeak-ng)
and the speaker (a PulseAudio null sink) are all real.
"""

from __future__ import annotations

import shutil

import pytest

from ..audio.conftest import pulse  # noqa: F401 - fixture
from ..conftest import run_cli
from ..engine.conftest import tiny_audio_dir, tiny_model_dir  # noqa: F401 - fixtures
from .e2e import device_broker, expected_commands, known_command_topics, registry_of, speech_wav, turns, write_config

pytestmark = [
    pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]

OWN_TOPICS = ("assistant/", "homeassistant/device/e2e_assistant/")  # the assistant's own entities
# Every stage of a turn that publishes to a device without a state topic (so no state echo to wait for).
STAGES_WITHOUT_ECHO = {"speech_start", "speech_end", "features", "encoder", "prefill", "first_token", "tool_call",
                       "puback", "first_audio"}


def _run(tmp_path, model, broker, phrases, only_fan):
    wavs = [str(speech_wav(tmp_path / f"turn{i}.wav", "okay nabu", text)) for i, text in enumerate(phrases)]
    config = write_config(tmp_path / "config.toml", model, tmp_path / "state", broker, tool_grammar="force")
    spy = broker.client("spy")
    spy.subscribe("#")
    result = run_cli("--config", str(config), "run", "--wav", *wavs, timeout=240)
    spy.close()
    assert result.returncode == 0, result.stderr[-2000:]
    done = turns(result.stdout)
    assert len(done) == len(phrases), result.stdout + result.stderr[-2000:]
    published = {(t, p) for t, p, retained in spy.messages if not retained and not t.startswith(OWN_TOPICS)}
    commands = {(t, p) for t, p in published if t in known_command_topics(only_fan)}
    assert published == commands, f"something other than a device command was published: {published - commands}"
    assert commands <= expected_commands([a for turn in done for a in turn["actions"]], only_fan)
    return done, commands, config


@pytest.fixture
def fixture_broker(tmp_path):
    b = device_broker(tmp_path / "broker")
    yield b
    b.stop()


@pytest.fixture
def fan_broker(tmp_path):
    b = device_broker(tmp_path / "broker", only_fan=True)
    yield b
    b.stop()


def test_every_turn_on_many_devices_is_a_known_device_call_and_nothing_else_is_published(
        tmp_path, tiny_audio_dir, fixture_broker, pulse):  # noqa: F811
    done, _, _ = _run(tmp_path, tiny_audio_dir, fixture_broker, ["turn on the kitchen light"], only_fan=False)
    (turn,) = done
    assert turn["outcome"] == "ok"
    assert turn["actions"], "a forced grammar always yields a tool call"
    names = {d.id for d in registry_of(False).devices()}
    assert all(a["arguments"]["device"] in names for a in turn["actions"])
    assert turn["spoken"], "the call's result is spoken"
    assert "wake" not in turn["ms"] and {"speech_start", "first_token", "tool_call", "first_audio"} <= set(turn["ms"])


def test_spoken_command_reaches_the_device_and_the_latency_record_is_complete(tmp_path, tiny_audio_dir, fan_broker, pulse):  # noqa: F811
    done, commands, config = _run(tmp_path, tiny_audio_dir, fan_broker, ["switch on the attic fan"], only_fan=True)
    (turn,) = done
    assert [a["tool"] for a in turn["actions"]] == ["set_power"]
    assert commands and {t for t, _ in commands} == {"attic/fan/set"}
    assert turn["spoken"] == ["Done."]
    assert set(turn["ms"]) == STAGES_WITHOUT_ECHO
    stats = run_cli("--config", str(config), "stats")
    assert stats.returncode == 0 and "puback" in stats.stdout
