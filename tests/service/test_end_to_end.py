"""End to end: espeak-ng speech through ``assistant run --wav`` with the tiny random model and a real Mosquitto.

The tiny model's words are meaningless, so its tool calls are forced into the registry's grammar
(``service.tool_grammar = "force"``): every turn must produce a call that names a real device, and
every message that reaches the broker must be exactly a command the validator builds for that call.
Wake word (micro-wakeword on the spoken "okay nabu"), VAD (WebRTC), endpointing, TTS (espeak-ng)
and the speaker (a PulseAudio null sink) are all real.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import ROOT, run_cli
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
    return done, commands, config, spy


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
        tmp_path, tiny_audio_dir, fixture_broker, pulse):
    done, _, _, _ = _run(tmp_path, tiny_audio_dir, fixture_broker, ["turn on the kitchen light"], only_fan=False)
    (turn,) = done
    assert turn["outcome"] == "ok"
    assert turn["actions"], "a forced grammar always yields a tool call"
    names = {d.id for d in registry_of(False).devices()}
    assert all(a["arguments"]["device"] in names for a in turn["actions"])
    assert turn["spoken"], "the call's result is spoken"
    assert "wake" not in turn["ms"] and {"speech_start", "first_token", "tool_call", "first_audio"} <= set(turn["ms"])


def test_spoken_command_reaches_the_device_and_the_latency_record_is_complete(tmp_path, tiny_audio_dir, fan_broker, pulse):
    done, commands, config, spy = _run(tmp_path, tiny_audio_dir, fan_broker, ["switch on the attic fan"], only_fan=True)
    (turn,) = done
    assert [a["tool"] for a in turn["actions"]] == ["set_power"]
    assert commands and {t for t, _ in commands} == {"attic/fan/set"}
    assert turn["spoken"] == ["Done."]
    assert set(turn["ms"]) == STAGES_WITHOUT_ECHO
    (sensor,) = [json.loads(p) for t, p, _ in spy.messages if t == "assistant/e2e_assistant/latency"]
    assert sensor["total_ms"] == turn["ms"]["first_audio"] and sensor["puback_ms"] == turn["ms"]["puback"]
    assert sensor["tier"] == "local"
    order = [turn["ms"][s] for s in ("features", "encoder", "prefill", "first_token", "tool_call", "puback")]
    assert order == sorted(order), turn["ms"]
    stats = run_cli("--config", str(config), "stats")
    assert stats.returncode == 0 and "puback" in stats.stdout


def test_ask_is_a_full_turn_the_call_runs_and_the_reply_is_spoken(tmp_path, tiny_audio_dir, fan_broker, pulse):
    config = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", fan_broker, tool_grammar="force")
    spy = fan_broker.client("spy")
    spy.subscribe("attic/#")
    result = run_cli("--config", str(config), "ask", "switch on the attic fan")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tool call: set_power" in result.stdout and "  -> Done." in result.stdout
    assert "not speaking" not in result.stderr
    assert spy.wait_for("attic/fan/set")
    spy.close()
    quiet = run_cli("--config", str(config), "ask", "--json", "switch on the attic fan")
    data = json.loads(quiet.stdout)
    assert data["actions"] and data["actions"][0]["result"] == "Done." and data["tier"] == "local"


def test_ask_without_a_speaker_still_answers_and_says_why_it_is_silent(tmp_path, tiny_audio_dir, fan_broker):
    config = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", fan_broker, tool_grammar="force")
    with config.open("a") as fh:
        fh.write('[audio]\noutput_device = "no such speaker"\n')
    result = run_cli("--config", str(config), "ask", "switch on the attic fan")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "  -> Done." in result.stdout
    assert "not speaking the reply" in result.stderr


def _start(config, *wavs):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "NOTIFY_", "WATCHDOG_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "assistant", "--config", str(config), "run", "--wav", *wavs],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_status(spy, status: str, proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(t == STATUS_TOPIC and p == status for t, p, _ in list(spy.messages)):
            return
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"never {status}: {proc.communicate()[1][-2000:]}")


STATUS_TOPIC = "assistant/e2e_assistant/status"


def test_sigterm_during_a_real_turn_shuts_down_cleanly_within_2_s(tmp_path, tiny_audio_dir, fan_broker, pulse):
    wav = speech_wav(tmp_path / "turn.wav", "okay nabu", "tell me a long story about the attic fan")
    config = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", fan_broker, tool_grammar="off")
    spy = fan_broker.client("spy")
    spy.subscribe("assistant/#")
    proc = _start(config, str(wav))
    try:
        _wait_status(spy, "thinking", proc)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        took = time.monotonic() - sent
        stderr = proc.stderr.read() if proc.stderr else ""
        assert proc.returncode == 0, stderr[-2000:]
        assert took < 2.0, f"shutdown took {took:.2f} s"
        assert "Traceback" not in stderr
        assert spy.wait_for("assistant/e2e_assistant/availability")[-1][1] == "offline"
    finally:
        if proc.poll() is None:
            proc.kill()
        spy.close()


def test_broker_going_away_mid_turn_is_spoken_and_the_run_ends_normally(tmp_path, tiny_audio_dir, fan_broker, pulse):
    wav = speech_wav(tmp_path / "turn.wav", "okay nabu", "switch on the attic fan")
    config = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", fan_broker, tool_grammar="force")
    spy = fan_broker.client("spy")
    spy.subscribe("assistant/#")
    proc = _start(config, str(wav))
    try:
        _wait_status(spy, "listening", proc)  # woken: the broker goes while the user is still speaking
        fan_broker.stop()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        spy.close()
    assert proc.returncode == 0, err[-2000:]
    (turn,) = turns(out)
    assert [(a["tool"], a["result"]) for a in turn["actions"]] == [("set_power", "I can't reach the hub.")]
    assert turn["spoken"] == ["I can't reach the hub."] and "Traceback" not in err


def test_muted_from_mqtt_the_service_does_not_listen(tmp_path, tiny_audio_dir, fan_broker, pulse):
    control = fan_broker.client("home-assistant")
    control.publish("assistant/e2e_assistant/mute/set", "ON", retain=True)
    control.close()
    wav = speech_wav(tmp_path / "turn.wav", "okay nabu", "switch on the attic fan")
    config = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", fan_broker, tool_grammar="force")
    spy = fan_broker.client("spy")
    spy.subscribe("#")
    result = run_cli("--config", str(config), "run", "--wav", str(wav), timeout=120)
    spy.close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert turns(result.stdout) == []
    statuses = [p for t, p, _ in spy.messages if t == STATUS_TOPIC]
    assert "listening" not in statuses and not [t for t, _, _ in spy.messages if t == "attic/fan/set"]
