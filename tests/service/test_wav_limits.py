"""Over-long WAV input is cut with one warning; ``run --wav --fast`` turns never become latency records."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import numpy as np
import pytest

from assistant.audio.wavfile import write_wav
from assistant.commands.run import _feed_files
from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.protocols import SAMPLE_RATE, TextDelta
from assistant.service.latency import FILE_NAME
from assistant.service.sdnotify import Notifier
from assistant.service.wavsource import TurnWavSource
from assistant.service.wiring import Parts, build_assistant

from ..conftest import run_cli
from .doubles import EnergyEndpointer, FakeBus, FakePlayer, FakeTts, MarkerDetector, RecordingAnnouncer, ScriptedEngine

published: list[dict] = []  # what the latency publisher (the MQTT sensor in the service) was given


def loud(seconds: float) -> np.ndarray:
    """A square wave the energy endpointer hears as speech the whole time."""
    n = int(seconds * SAMPLE_RATE)
    return np.where(np.arange(n) % 40 < 20, 3000, -3000).astype(np.int16)


def test_a_60_s_file_is_cut_to_the_cap_with_one_warning(tmp_path, caplog):
    long = tmp_path / "long.wav"
    write_wav(long, loud(60.0))
    short = tmp_path / "short.wav"
    write_wav(short, loud(2.0))
    with caplog.at_level(logging.WARNING):
        source = TurnWavSource([long, short], block_ms=10, gap_s=0.5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{long} is 60.0 s long; only its first 30 s are used (one turn takes at most 30 s of audio)"]
    assert [len(samples) for _, samples in source.clips] == [30 * SAMPLE_RATE, 2 * SAMPLE_RATE]
    capped = TurnWavSource([long], max_s=12.5)  # run passes vad.max_speech_s
    assert len(capped.clips[0][1]) == int(12.5 * SAMPLE_RATE)


def _run_fast(tmp_path, capsys, timings: bool):
    tmp_path.mkdir(exist_ok=True)
    wav = tmp_path / "speech.wav"
    write_wav(wav, np.concatenate([np.zeros(1600, np.int16), loud(1.0)]))
    source = TurnWavSource([wav, wav], block_ms=10, gap_s=0.6, realtime=False)
    engine = ScriptedEngine([[TextDelta("One.")], [TextDelta("Two.")]])
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(end_frames=30, timeout_frames=300), engine, FakeBus(),
                  FakeTts(), FakePlayer(), RecordingAnnouncer(), latency_publisher=published.append)
    state = tmp_path / "state"
    config = Config(service=ServiceConfig(state_dir=str(state), follow_up_s=0.0))
    assistant = build_assistant(config, parts, notifier=Notifier(environ={}))
    _feed_files(assistant, source, no_wake=True, timings=timings)
    assistant.run()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()], state / FILE_NAME


def test_fast_turns_are_not_recorded_as_latencies(tmp_path, capsys):
    published.clear()
    lines, records = _run_fast(tmp_path, capsys, timings=False)
    assert [line["spoken"] for line in lines] == [["One."], ["Two."]]
    assert all(line["ms"] == {} for line in lines)
    assert not records.exists() and published == []  # neither the stats file nor the MQTT latency sensor
    # the same files at real-time semantics are recorded as usual
    lines, records = _run_fast(tmp_path / "again", capsys, timings=True)
    assert len(records.read_text().splitlines()) == 2 and len(published) == 2
    assert all("first_audio" in line["ms"] for line in lines)


def test_stats_never_prints_negative_figures_from_old_records(tmp_path, clean_home):
    state = tmp_path / "state"
    state.mkdir()
    good = [{"turn": i, "time": 0, "outcome": "", "ms": {"first_token": 100.0 + i}} for i in range(4)]
    old_fast = [{"turn": 9, "time": 0, "outcome": "", "ms": {"first_token": -2500.0, "speech_end": -40.0}},
                {"turn": 10, "time": 0, "outcome": "", "ms": {"first_token": float("-inf")}}]
    (state / FILE_NAME).write_text("".join(json.dumps(r) + "\n" for r in good + old_fast))
    env = {"HOME": str(clean_home), "ASSISTANT_SERVICE__STATE_DIR": str(state)}
    result = run_cli("stats", env=env)
    assert result.returncode == 0, result.stderr
    assert "-" not in "".join(line.split(None, 2)[-1] for line in result.stdout.splitlines()[2:])
    assert "(3 negative or invalid timings skipped: turns fed faster than real time)" in result.stdout
    table = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.startswith("first_token")}
    assert table["first_token"][2] == "4"  # n: only the plausible figures
    data = json.loads(run_cli("stats", "--json", env=env).stdout)
    assert data["skipped_figures"] == 3 and data["stages"]["first_token"]["n"] == 4
    assert "speech_end" not in data["stages"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
def test_ask_with_a_60_s_wav_warns_once_and_answers(tmp_path, tiny_audio_dir, clean_home):
    speech = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(speech), "turn on the light"], check=True, capture_output=True)
    long = tmp_path / "long.wav"
    subprocess.run(["sox", str(speech), "-r", "16000", str(long), "pad", "0", "58"], check=True, capture_output=True)
    env = {"HOME": str(clean_home), "ASSISTANT_MQTT__ENABLED": "false"}
    result = run_cli("ask", "--model", str(tiny_audio_dir), "--precision", "fp32", "--audio", str(long), "--json",
                     "--max-new-tokens", "2", "what did I say?", env=env)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "only its first 30 s are used" in warnings[0] and str(long) in warnings[0]
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout)["timings"]["audio_tokens"] > 0
