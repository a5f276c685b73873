"""``assistant run``: the assistant on the microphone, or the same pipeline fed from WAV files."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from assistant.config import load_config
from assistant.config.validate import require_valid
from assistant.errors import UsageError
from assistant.service.latency import LatencyLog
from assistant.service.loop import FOLLOW_UP, IDLE, Assistant
from assistant.service.native import require_native_libraries
from assistant.service.runner import serve
from assistant.service.sdnotify import Notifier
from assistant.service.turn import Turn, TurnResult
from assistant.service.wavsource import TurnWavSource
from assistant.service.wiring import build_assistant


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run the assistant (microphone, or --wav files)")
    parser.add_argument("--wav", nargs="+", metavar="FILE", type=Path,
                        help="feed these WAV files through the pipeline instead of the microphone, one turn each")
    parser.add_argument("--no-wake", action="store_true",
                        help="with --wav: start listening at each file, as if the wake word was heard")
    parser.add_argument("--fast", action="store_true",
                        help="with --wav: feed audio as fast as possible (latency figures are then meaningless)")
    parser.add_argument("--cue", type=Path, metavar="FILE",
                        help="with --wav: before each file, feed silence until FILE appears (it is then removed); "
                             "plays one recording to several assistants at once")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if (args.no_wake or args.fast) and not args.wav:
        raise UsageError("--no-wake and --fast need --wav")
    if args.cue and not args.wav:
        raise UsageError("--cue needs --wav")
    config = load_config(args.config)
    require_valid(config)
    notifier = Notifier()
    notifier.status("Starting")
    require_native_libraries()  # a crash while loading one names the library instead of killing us silently
    source = None
    if args.wav:
        source = TurnWavSource(args.wav, block_ms=config.audio.block_ms, realtime=not args.fast,
                               max_s=config.vad.max_speech_s)
    assistant = build_assistant(config, notifier=notifier, source=source)
    outcomes: list[str] = []
    if source is not None:
        _feed_files(assistant, source, args.no_wake, outcomes, timings=not args.fast, cue=args.cue)
    return wav_exit_code(serve(assistant, notifier), outcomes)


def wav_exit_code(code: int, outcomes: list[str]) -> int:
    """With --wav, a failed turn is a failed run: 1, with one line saying how many (the log above says why)."""
    failed = outcomes.count("failed")
    if code == 0 and failed:
        logging.getLogger("assistant.run").error("%d of %d turn(s) failed", failed, len(outcomes))
        return 1
    return code


def _feed_files(assistant: Assistant, source: TurnWavSource, no_wake: bool, outcomes: list[str] | None = None,
                timings: bool = True, cue: Path | None = None) -> None:
    """One file per turn: wait for the loop (and the cue) between files; print each turn as one JSON line
    (its ``ms`` empty unless ``timings``: with ``--fast`` they mean nothing)."""
    if not timings:  # audio faster than real time: its timings are not latencies, so neither the file nor MQTT sees them
        assistant.latency = LatencyLog(None, keep=assistant.latency.records.maxlen or 1)
    source.ready = lambda: assistant.state in (IDLE, FOLLOW_UP) and assistant.turn is None and _take_cue(cue)
    if no_wake:
        source.on_file_start = lambda path: assistant.trigger()

    def on_turn(turn: Turn, result: TurnResult) -> None:
        if outcomes is not None:
            outcomes.append(result.outcome)
        _print_turn(turn, result, timings)

    assistant.on_turn = on_turn


def _take_cue(cue: Path | None) -> bool:
    """True without a cue file, or once it exists (removing it, so the next file waits for the next cue)."""
    if cue is None:
        return True
    try:
        cue.unlink()
    except FileNotFoundError:
        return False
    return True


def _print_turn(turn: Turn, result: TurnResult, timings: bool = True) -> None:
    actions = [{"tool": a.call.name, "arguments": dict(a.call.arguments), "result": a.result, "failed": a.failed}
               for a in result.actions]
    line = {"turn": turn.id, "outcome": result.outcome, "text": result.text, "spoken": turn.speech.sentences,
            "actions": actions, "ms": turn.record.as_dict()["ms"] if timings else {}}
    print(json.dumps(line), flush=True)
