"""``assistant run``: the assistant on the microphone, or the same pipeline fed from WAV files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from assistant.config import load_config
from assistant.errors import AssistantError
from assistant.service.loop import FOLLOW_UP, IDLE, Assistant
from assistant.service.native import require_native_libraries
from assistant.service.runner import serve
from assistant.service.sdnotify import Notifier
from assistant.service.turn import Turn, TurnResult
from assistant.service.wavsource import TurnWavSource
from assistant.service.wiring import build_assistant


class UsageError(AssistantError):
    exit_code = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run the assistant (microphone, or --wav files)")
    parser.add_argument("--wav", nargs="+", metavar="FILE", type=Path,
                        help="feed these WAV files through the pipeline instead of the microphone, one turn each")
    parser.add_argument("--no-wake", action="store_true",
                        help="with --wav: start listening at each file, as if the wake word was heard")
    parser.add_argument("--fast", action="store_true",
                        help="with --wav: feed audio as fast as possible (latency figures are then meaningless)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if (args.no_wake or args.fast) and not args.wav:
        raise UsageError("--no-wake and --fast need --wav")
    config = load_config(args.config)
    notifier = Notifier()
    notifier.status("Starting")
    require_native_libraries()  # a crash while loading one names the library instead of killing us silently
    source = None
    if args.wav:
        source = TurnWavSource(args.wav, block_ms=config.audio.block_ms, realtime=not args.fast)
    assistant = build_assistant(config, notifier=notifier, source=source)
    if source is not None:
        _feed_files(assistant, source, args.no_wake)
    return serve(assistant, notifier)


def _feed_files(assistant: Assistant, source: TurnWavSource, no_wake: bool) -> None:
    """One file per turn: wait for the loop between files; print each turn as one JSON line."""
    source.ready = lambda: assistant.state in (IDLE, FOLLOW_UP) and assistant.turn is None
    if no_wake:
        source.on_file_start = lambda path: assistant.trigger()
    assistant.on_turn = _print_turn


def _print_turn(turn: Turn, result: TurnResult) -> None:
    actions = [{"tool": a.call.name, "arguments": dict(a.call.arguments), "result": a.result, "failed": a.failed}
               for a in result.actions]
    line = {"turn": turn.id, "outcome": result.outcome, "text": result.text, "spoken": turn.speech.sentences,
            "actions": actions, "ms": turn.record.as_dict()["ms"]}
    print(json.dumps(line), flush=True)
