"""A turn that fails is said in the log and, with ``run --wav``, makes the run exit 1 (never a silent 0)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import pytest

from assistant.commands.run import _feed_files, wav_exit_code
from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.protocols import TextDelta
from assistant.service.sdnotify import Notifier
from assistant.service.wavsource import TurnWavSource
from assistant.service.wiring import Parts, build_assistant

from .doubles import EnergyEndpointer, FakeBus, FakePlayer, FakeTts, MarkerDetector, RecordingAnnouncer, ScriptedEngine

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@needs_espeak
def test_a_failing_turn_is_logged_recorded_and_fails_the_run(tmp_path, capsys, caplog) -> None:
    files = []
    for i, text in enumerate(["Turn on the kitchen light", "What time is it"]):
        files.append(tmp_path / f"{i}.wav")
        subprocess.run(["espeak-ng", "-w", str(files[-1]), text], check=True, capture_output=True)
    source = TurnWavSource(files, block_ms=10, gap_s=0.6, realtime=False)
    engine = ScriptedEngine([[RecursionError("maximum recursion depth exceeded")], [TextDelta("Noon.")]])
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(end_frames=30, timeout_frames=300), engine, FakeBus(),
                  FakeTts(), FakePlayer(), RecordingAnnouncer())
    assistant = build_assistant(Config(service=ServiceConfig(state_dir=str(tmp_path), follow_up_s=0.0)), parts,
                                notifier=Notifier(environ={}))
    outcomes: list[str] = []
    _feed_files(assistant, source, no_wake=True, outcomes=outcomes)
    caplog.set_level(logging.ERROR)
    assistant.run()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [t["outcome"] for t in lines] == outcomes == ["failed", "ok"]
    assert "the engine failed: maximum recursion depth exceeded" in caplog.text
    assert wav_exit_code(0, outcomes) == 1 and "1 of 2 turn(s) failed" in caplog.text
    assert wav_exit_code(0, ["ok", "ok"]) == 0 and wav_exit_code(130, outcomes) == 130
