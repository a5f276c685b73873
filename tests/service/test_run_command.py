"""``assistant run`` and ``assistant stats`` as a user runs them, and WAV input with real espeak-ng speech."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from assistant.audio.wavfile import write_wav
from assistant.commands.run import _feed_files
from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.protocols import SAMPLE_RATE, TextDelta, ToolCall
from assistant.service.latency import LatencyLog, LatencyRecord
from assistant.service.sdnotify import Notifier
from assistant.service.wavsource import TurnWavSource
from assistant.service.wiring import Parts, build_assistant

from ..conftest import run_cli
from .doubles import (
    EnergyEndpointer,
    FakeBus,
    FakePlayer,
    FakeTts,
    MarkerDetector,
    RecordingAnnouncer,
    ScriptedEngine,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def espeak(tmp_path, text: str, name: str):
    path = tmp_path / name
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return path


def test_wav_source_frames_each_file_after_the_loop_is_ready(tmp_path):
    a = tmp_path / "a.wav"
    write_wav(a, np.full(250, 7, dtype=np.int16), 16000)
    ready = iter([False, False, True, True])
    started = []
    source = TurnWavSource([a, a], block_ms=10, gap_s=0.1, ready=lambda: next(ready, True), on_file_start=started.append)
    frames = list(source.frames())
    assert all(len(f) == 160 for f in frames)
    # 2 waiting frames, then per file: 250 samples + 1600 silence = 1850 -> 12 frames
    assert len(frames) == 2 + 12 + 12
    assert started == [a, a]
    assert int(frames[2][0]) == 7 and int(frames[3][89]) == 7 and int(frames[3][90]) == 0


@needs_espeak
def test_run_wav_pipeline_with_real_speech_files(tmp_path, capsys):
    """The ``run --wav --no-wake`` wiring: one espeak-ng file per turn, each printed as a JSON line."""
    files = [espeak(tmp_path, "Turn on the kitchen light", "1.wav"), espeak(tmp_path, "What time is it", "2.wav")]
    source = TurnWavSource(files, block_ms=10, gap_s=0.6, realtime=False)
    engine = ScriptedEngine([[ToolCall("light_turn_on", {"area": "kitchen"}), TextDelta("Done.")], [TextDelta("Noon.")]])
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(end_frames=30, timeout_frames=300), engine, FakeBus(),
                  FakeTts(), FakePlayer(), RecordingAnnouncer())
    config = Config(service=ServiceConfig(state_dir=str(tmp_path), follow_up_s=0.0))
    assistant = build_assistant(config, parts, notifier=Notifier(environ={}))
    _feed_files(assistant, source, no_wake=True)
    assistant.run()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(t["outcome"], t["spoken"]) for t in lines] == [("ok", ["Done.", "The kitchen light is on."]), ("ok", ["Noon."])]
    assert lines[0]["actions"] == [{"tool": "light_turn_on", "arguments": {"area": "kitchen"},
                                    "result": "The kitchen light is on.", "failed": False}]
    utterance = engine.calls[0][0][-1].audio
    assert utterance is not None and len(utterance) > SAMPLE_RATE // 2  # the spoken words reached the engine


def test_run_wav_missing_file_is_one_line(tmp_path, clean_home):
    result = run_cli("run", "--wav", str(tmp_path / "nope.wav"), env={"HOME": str(clean_home)})
    assert result.returncode == 1
    assert result.stderr.strip() == f"assistant: error: {tmp_path / 'nope.wav'}: no such file"


def test_run_no_wake_needs_wav(clean_home):
    result = run_cli("run", "--no-wake", env={"HOME": str(clean_home)})
    assert result.returncode == 2
    assert result.stderr.strip() == "assistant: error: --no-wake and --fast need --wav"


def test_stats_prints_percentiles_from_the_state_dir(tmp_path, clean_home):
    state = tmp_path / "state"
    log = LatencyLog(state / "latency.jsonl")
    for i in range(1, 21):
        r = LatencyRecord(i)
        r.mark("speech_end", 10.0)
        r.mark("first_token", 10.0 + i / 100)
        log.finish(r)
    env = {"HOME": str(clean_home), "ASSISTANT_SERVICE__STATE_DIR": str(state)}
    result = run_cli("stats", env=env)
    assert result.returncode == 0, result.stderr
    assert "20 turns (ok 20)" in result.stdout
    assert any(line.split()[:3] == ["first_token", "speech_end", "20"] for line in result.stdout.splitlines())
    data = json.loads(run_cli("stats", "--json", "--last", "10", env=env).stdout)
    assert data["turns"] == 10
    assert data["stages"]["first_token"]["p50_ms"] == pytest.approx(155.0)


def test_stats_without_records_says_so(tmp_path, clean_home):
    env = {"HOME": str(clean_home), "ASSISTANT_SERVICE__STATE_DIR": str(tmp_path)}
    result = run_cli("stats", env=env)
    assert result.returncode == 0
    assert "No latency records yet" in result.stdout


def test_run_as_a_new_user_says_in_one_line_what_is_missing(tmp_path, clean_home, tiny_audio_dir):
    no_model = run_cli("run", env={"HOME": str(clean_home)})
    assert no_model.returncode == 1
    assert no_model.stderr.count("\n") == 1 and "assistant models pull e2b" in no_model.stderr and "model.dir" in no_model.stderr
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\ndir = "{tiny_audio_dir}"\n[audio]\ninput_device = "no such microphone"\n')
    no_mic = run_cli("--config", str(config), "run", env={"HOME": str(clean_home)})
    assert no_mic.returncode == 1
    assert no_mic.stderr.count("\n") == 1 and "no such microphone" in no_mic.stderr
