"""``assistant bench audio``: the ear on the evaluation set, and the CPU cost of idle listening.

Method. All audio is generated (``assistant.audio.evalset``, kept in a cache folder), so the
truth is known: speakers the tests never use say a wake phrase, pause 0.2-1.5 s and say a
command, in synthetic rooms with five kinds of noise at 30/20/10 dB SNR; hours of other
speech under the same conditions give false accepts per hour.
- Idle CPU: the wake word and the endpointer (whose VAD runs on every frame) on every 10 ms
  frame of non-wake audio; the CPU time of this thread per second of audio, as a fraction
  of one core.
- The ear (``assistant.benchmarks.audio_eval``): wake detection, hand-over, endpointing, run
  as the service loop runs them; the endpoint delay is the end of the frame that emitted the
  utterance minus the command's labelled (audible) end, on the audio's own timeline.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import evalset
from assistant.audio.endpoint import Endpointer
from assistant.audio.factory import make_vad, make_wakeword
from assistant.benchmarks.audio_eval import add_rows
from assistant.benchmarks.report import Report, median, percentile
from assistant.config import load_config
from assistant.config.paths import state_dir
from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE

FRAME = SAMPLE_RATE // 100


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audio", help="the ear on a generated evaluation set: wake words, hand-over, endpointing, CPU")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--idle-seconds", type=float, default=60.0, metavar="S", help="seconds of idle audio (default 60)")
    parser.add_argument("--quick", action="store_true", help="the quick evaluation set and no VAD comparison (smoke tests)")
    parser.add_argument("--eval-dir", metavar="DIR", help="where the evaluation set is generated and kept "
                        "(default <state_dir>/cache/audio-eval/<size>-v<version>)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.idle_seconds < 5:
        raise AssistantError("--idle-seconds must be at least 5")
    config = load_config(args.config)
    size = "quick" if args.quick else "full"
    root = Path(args.eval_dir).expanduser() if args.eval_dir else evalset.default_dir(state_dir(config), size)
    found = evalset.load_or_build(root, size, progress)
    report = Report("Audio front end: the ear on the evaluation set, and idle listening")
    idle = np.concatenate([found.audio(s.file) for s in found.stretches])[: int(args.idle_seconds * SAMPLE_RATE)]
    progress(f"idle listening: {config.wakeword.model} + {config.vad.engine} on {len(idle) / SAMPLE_RATE:.0f} s of audio")
    cpu = idle_cpu(idle, config)
    target_cpu = 0.05
    report.add("idle_cpu_fraction_of_core", cpu["median"], "of a core", label="idle CPU (wake+VAD), median")
    report.add(
        "idle_cpu_fraction_of_core_p95", cpu["p95"], "of a core", label="idle CPU (wake+VAD), p95",
        target=f"<= {target_cpu}", ok=cpu["p95"] <= target_cpu,
    )
    report.add("wake_ms_per_frame", cpu["wake_ms"], "ms", label="wake word per 10 ms frame")
    report.add("vad_ms_per_frame", cpu["vad_ms"], "ms", label="VAD + endpointer per 10 ms frame")
    report.add("end_silence_ms", config.vad.end_silence_ms, "ms", label="configured end silence")
    report.add("vad_engine", config.vad.engine, label="VAD")
    report.add("wake_model", config.wakeword.model, label="wake word (idle CPU)")
    add_rows(report, found, config, compare_vads=not args.quick, progress=progress)
    return report.emit(args.json)


def progress(message: str) -> None:
    import sys

    print(f"... {message}", file=sys.stderr, flush=True)


def idle_cpu(audio: np.ndarray, config: Any) -> dict[str, float]:
    """CPU fraction of one core per second of audio for wake word + VAD on every frame."""
    detector = make_wakeword(config.wakeword)
    endpointer = Endpointer(config.vad, make_vad(config.vad))
    per_second: list[float] = []
    wake_s = vad_s = 0.0
    frames = len(audio) // FRAME
    for second in range(frames // 100):
        start = time.thread_time()
        for i in range(second * 100, second * 100 + 100):
            frame = audio[i * FRAME : (i + 1) * FRAME]
            a = time.thread_time()
            detector.detect(frame)
            b = time.thread_time()
            endpointer.feed(frame)
            wake_s += b - a
            vad_s += time.thread_time() - b
        per_second.append(time.thread_time() - start)
    n = len(per_second) * 100
    return {
        "median": median(per_second),
        "p95": percentile(per_second, 95),
        "wake_ms": wake_s / n * 1000,
        "vad_ms": vad_s / n * 1000,
    }
