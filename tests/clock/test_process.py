"""Real ``assistant`` processes (``run --wav``, the tiny model, espeak-ng, PulseAudio null sink, real Mosquitto):
a timer survives kill -9 and rings after the restart; one that ends while the service runs rings; a spoken
turn under the grammar reaches the clock's tools.

Time is moved with ``$ASSISTANT_TEST_CLOCK_SHIFT_FILE`` (seconds added to the system clock, re-read at every
look), so nothing here waits for a timer to run out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.wavfile import write_wav
from assistant.clock.tools import REFUSED, TOOL_NAMES
from assistant.clock.wallclock import SHIFT_ENV
from assistant.protocols import SAMPLE_RATE

from ..conftest import ROOT, run_cli
from ..home.conftest import Broker
from ..service.e2e import speech_wav, turns, write_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]
EVENTS = "assistant/e2e_assistant/timer_event"
STATE = "assistant/e2e_assistant/timers"


def _silence(path: Path, seconds: float) -> Path:
    write_wav(path, np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16))
    return path


def _env(shift: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(PYTHONPATH=str(ROOT), **{SHIFT_ENV: str(shift)})
    return env


def _start(config: Path, wav: Path, shift: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant", "-v", "--config", str(config), "run", "--wav", str(wav)],
                            stdout=subprocess.DEVNULL, stderr=log.open("w"), env=_env(shift), cwd=ROOT)


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _payloads(spy, topic: str) -> list[dict]:
    return [json.loads(p) for t, p, _ in spy.messages if t == topic]


@pytest.fixture
def rig(tmp_path, tiny_audio_dir, pulse):
    broker = Broker(tmp_path / "broker")
    broker.start()
    spy = broker.client("spy")
    spy.subscribe("assistant/#")
    config = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", broker, clock=True)
    shift = tmp_path / "shift"
    shift.write_text("0")
    yield broker, spy, config, shift
    spy.close()
    broker.stop()


def test_a_timer_survives_kill_9_and_rings_after_the_restart(tmp_path, rig):
    _broker, spy, config, shift = rig
    added = run_cli("--config", str(config), "timers", "add", "10m", "--name", "pasta")
    assert added.returncode == 0 and added.stdout.strip() == "Pasta timer set for 10 minutes.", added.stderr
    first = _start(config, _silence(tmp_path / "long.wav", 120), shift, tmp_path / "first.log")
    try:
        _wait_for(lambda: any(p["count"] == 1 and p["next_name"] == "pasta" for p in _payloads(spy, STATE)),
                  "the running service to publish the pasta timer")
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    assert not _payloads(spy, EVENTS), "nothing rang before the kill"
    shift.write_text(str(11 * 60))  # the service was down while the timer ended, a minute ago
    second = _start(config, _silence(tmp_path / "short.wav", 6), shift, tmp_path / "second.log")
    assert second.wait(180) == 0, (tmp_path / "second.log").read_text()[-2000:]
    log = (tmp_path / "second.log").read_text()
    assert "ringing: Your pasta timer ended 1 minute ago." in log, log[-2000:]
    _wait_for(lambda: _payloads(spy, EVENTS), "the ring event", 5)
    (event,) = _payloads(spy, EVENTS)
    assert event["event_type"] == "timer_finished" and event["name"] == "pasta" and 55 <= event["late_s"] <= 120
    listed = run_cli("--config", str(config), "timers", "--json", env={SHIFT_ENV: str(shift)})
    assert json.loads(listed.stdout) == {"timers": [], "alarms": []}, "it rang once and is gone"


def test_a_timer_that_ends_while_the_service_runs_rings_and_the_cli_cancels_another(tmp_path, rig):
    _broker, spy, config, shift = rig
    for args in (["2m", "--name", "eggs"], ["30m", "--name", "laundry"]):
        assert run_cli("--config", str(config), "timers", "add", *args).returncode == 0
    proc = _start(config, _silence(tmp_path / "long.wav", 120), shift, tmp_path / "run.log")
    try:
        _wait_for(lambda: any(p["count"] == 2 for p in _payloads(spy, STATE)), "the two timers on MQTT")
        cancelled = run_cli("--config", str(config), "timers", "cancel", "laundry")
        assert cancelled.returncode == 0 and cancelled.stdout.strip() == "Laundry timer cancelled."
        _wait_for(lambda: _payloads(spy, STATE)[-1]["count"] == 1, "the service to see the cancel")
        shift.write_text("121")
        _wait_for(lambda: _payloads(spy, EVENTS), "the eggs timer to ring")
        assert _payloads(spy, EVENTS)[0]["name"] == "eggs" and _payloads(spy, EVENTS)[0]["late_s"] < 60
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    log = (tmp_path / "run.log").read_text()
    assert "ringing: Your eggs timer is done." in log
    assert "laundry" not in [p["name"] for p in _payloads(spy, EVENTS)]


def test_a_spoken_turn_under_the_grammar_is_answered_by_the_clock(tmp_path, tiny_audio_dir, pulse):
    no_mqtt = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", None, clock=True,
                           tool_grammar="force")
    wav = speech_wav(tmp_path / "turn.wav", "okay nabu", "set a pasta timer for eight minutes")
    result = run_cli("--config", str(no_mqtt), "run", "--wav", str(wav), timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    (turn,) = turns(result.stdout)
    assert turn["outcome"] == "ok" and turn["actions"], turn
    for action in turn["actions"]:  # the tiny model's words are random; its call is forced into the grammar
        assert action["tool"] in TOOL_NAMES and action["result"] and action["result"] != REFUSED, action
        assert action["result"] in turn["spoken"], "the service's own sentence is what is spoken"
