"""``assistant listen``: print wake-word scores, VAD segments and timings, to tune a setup."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.endpoint import Endpointer, NoSpeech, SpeechStart, Utterance
from assistant.audio.factory import make_vad, make_wakeword, open_source
from assistant.audio.wakeword import Detector
from assistant.audio.wavfile import write_wav
from assistant.config import Config, load_config
from assistant.config.validate import directory_problem
from assistant.errors import AssistantError, UsageError
from assistant.protocols import SAMPLE_RATE, AudioSource


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "listen",
        help="show wake-word scores, speech segments and timings (microphone or WAV file)",
        description="Run the wake word and the endpointer on the microphone (default) or a WAV file "
        "and print what they decide, with timings. Stop with Ctrl-C.",
    )
    parser.add_argument("--wav", metavar="FILE", help="read this WAV file instead of the microphone")
    parser.add_argument("--realtime", action="store_true", help="with --wav: pace the file in real time")
    parser.add_argument("--no-wake", action="store_true", help="segment all speech, without waiting for the wake word")
    parser.add_argument("--duration", type=float, default=0.0, metavar="S", help="stop after S seconds of audio")
    parser.add_argument("--score-floor", type=float, default=0.2, metavar="X", help="print wake-word score peaks above X")
    parser.add_argument("--save", metavar="DIR", help="write each utterance to DIR as a WAV file")
    parser.add_argument("--trace", action="store_true",
                        help="print the wake-word score every 100 ms while it is above 0.05, with the threshold, to tune it")
    parser.set_defaults(func=run)


@dataclass
class Stats:
    frames: int = 0
    wake_s: float = 0.0
    vad_s: float = 0.0
    wakes: int = 0
    utterances: int = 0
    no_speech: int = 0
    peak: float = 0.0
    peak_t: float = 0.0
    window: float = 0.0  # highest score in the current 100 ms of the trace
    status: str = ""
    notes: list[str] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    if args.duration < 0 or not 0.0 < args.score_floor <= 1.0:
        raise AssistantError("--duration must be >= 0 and --score-floor between 0 and 1")
    save = Path(args.save) if args.save else None
    if save:
        problem = directory_problem(save)
        if problem:
            raise UsageError(f"--save {save}: {problem}; give a directory for the utterances")
        save.mkdir(parents=True, exist_ok=True)
    config = load_config(args.config)
    detector = make_wakeword(config.wakeword)
    endpointer = Endpointer(config.vad, make_vad(config.vad))
    source = open_source(config.audio, wav=args.wav or "", realtime=args.realtime)
    print(describe(config, source, detector, args), flush=True)
    stats = Stats()
    started = time.perf_counter()
    try:
        loop(source, detector, endpointer, stats, args, save)
    except KeyboardInterrupt:
        print("(stopped)")
    finally:
        source.close()
    print(summary(stats, time.perf_counter() - started, len_frame_s(config)))
    return 0


def len_frame_s(config: Config) -> float:
    return config.audio.block_ms / 1000


def describe(config: Config, source: AudioSource, detector: Detector, args: argparse.Namespace) -> str:
    if args.wav:
        where = f"file {args.wav} ({getattr(source, 'duration_s', 0):.2f} s, {'real time' if args.realtime else 'fast'})"
    else:
        where = f"microphone {getattr(source, 'device_name', '?')!r} at {getattr(source, 'capture_rate', 0)} Hz"
    wake = "off (--no-wake)" if args.no_wake else f"{detector.name} (threshold {detector.threshold:.2f})"
    vad = config.vad
    return (
        f"listening to {where}\nwake word: {wake}; VAD: {vad.engine}, end silence {vad.end_silence_ms} ms, "
        f"pre-roll {vad.pre_roll_ms} ms, min speech {vad.min_speech_ms} ms, no-speech timeout {vad.no_speech_timeout_s} s"
    )


def loop(
    source: AudioSource, detector: Detector, endpointer: Endpointer, stats: Stats, args: argparse.Namespace, save: Path | None
) -> None:
    t = 0.0
    if args.no_wake:
        endpointer.start(0.0)
    for frame in source.frames():
        t += len(frame) / SAMPLE_RATE
        stats.frames += 1
        report_status(source, stats, t)
        a = time.perf_counter()
        fired = detector.detect(frame)
        b = time.perf_counter()
        event = endpointer.feed(frame)
        stats.wake_s += b - a
        stats.vad_s += time.perf_counter() - b
        track_peak(detector.score, t, stats, args.score_floor)
        if args.trace:
            trace(detector, t, stats)
        if fired and not args.no_wake:
            stats.wakes += 1
            print(f"{t:8.2f} s  WAKE {detector.name} (score {detector.score:.2f})", flush=True)
            if not endpointer.active:
                endpointer.start(t, after_wake=True)
        if event is not None:
            show_event(event, t, stats, save)
            if args.no_wake and not endpointer.active:
                endpointer.start(t)
        if args.duration and t >= args.duration:
            break
    else:
        if args.wav and endpointer.active:
            flush(endpointer, t, stats, save)


def flush(endpointer: Endpointer, t: float, stats: Stats, save: Path | None) -> None:
    """At the end of a file, feed silence so speech that runs to the end still ends."""
    print(f"{t:8.2f} s  end of file: adding silence to finish the utterance", flush=True)
    silence = np.zeros(SAMPLE_RATE // 100, dtype=np.int16)
    for _ in range(int(endpointer.config.end_silence_ms / 10) + 50):
        t += 0.01
        event = endpointer.feed(silence)
        if event is not None:
            show_event(event, t, stats, save)
            if not endpointer.active:
                return


TRACE_S, TRACE_FLOOR, BAR = 0.1, 0.05, 40


def trace(detector: Detector, t: float, stats: Stats) -> None:
    """Every 100 ms: the highest score in it as a bar, with the threshold marked ('|')."""
    stats.window = max(stats.window, detector.score)
    if round(t * 1000) % round(TRACE_S * 1000):
        return
    score, stats.window = stats.window, 0.0
    if score < TRACE_FLOOR:
        return
    bar = ["#" if i < round(score * BAR) else " " for i in range(BAR)]
    mark = min(BAR - 1, round(detector.threshold * BAR))
    bar[mark] = "|" if bar[mark] == " " else "+"
    print(f"{t:8.2f} s  score {score:.2f} [{''.join(bar)}]", flush=True)


def track_peak(score: float, t: float, stats: Stats, floor: float) -> None:
    if score >= floor and score > stats.peak:
        stats.peak, stats.peak_t = score, t
    elif score < floor and stats.peak:
        print(f"{stats.peak_t:8.2f} s  wake score peak {stats.peak:.2f}", flush=True)
        stats.peak = 0.0


def report_status(source: AudioSource, stats: Stats, t: float) -> None:
    status = getattr(source, "status", "")
    if status != stats.status:
        if stats.status:
            counters = ", ".join(
                f"{name} {getattr(source, name)}" for name in ("overflows", "dropped_blocks", "reopen_attempts")
                if hasattr(source, name)
            )
            print(f"{t:8.2f} s  microphone: {status} ({counters})", flush=True)
        stats.status = status


def show_event(event: SpeechStart | Utterance | NoSpeech, t: float, stats: Stats, save: Path | None) -> None:
    if isinstance(event, SpeechStart):
        print(f"{t:8.2f} s  speech start at {event.t:.2f} s", flush=True)
    elif isinstance(event, NoSpeech):
        stats.no_speech += 1
        print(f"{t:8.2f} s  no speech: stopped listening", flush=True)
    else:
        stats.utterances += 1
        capped = " CAPPED at max_speech_s" if event.capped else ""
        print(
            f"{t:8.2f} s  utterance {event.start_t:.2f}-{event.end_t:.2f} s: {event.end_t - event.start_t:.2f} s of speech, "
            f"{event.duration_s:.2f} s of audio, emitted {t - event.end_t:.2f} s after its end{capped}",
            flush=True,
        )
        if save:
            path = fresh_path(save, stats.utterances)
            write_wav(path, event.samples)
            print(f"            saved {path}", flush=True)


def fresh_path(folder: Path, number: int) -> Path:
    """``utterance-NNN.wav`` in ``folder``, numbered past any file already there (earlier runs are kept)."""
    while (path := folder / f"utterance-{number:03d}.wav").exists():
        number += 1
    return path


def summary(stats: Stats, wall_s: float, frame_s: float) -> str:
    audio_s = stats.frames * frame_s
    if not stats.frames:
        return "no audio"
    wake_ms, vad_ms = stats.wake_s / stats.frames * 1000, stats.vad_s / stats.frames * 1000
    core = (stats.wake_s + stats.vad_s) / audio_s * 100
    return (
        f"summary: {audio_s:.2f} s of audio in {wall_s:.2f} s; per {frame_s * 1000:.0f} ms frame: "
        f"wake word {wake_ms:.3f} ms, VAD+endpointing {vad_ms:.3f} ms "
        f"({core:.2f} % of one core); wake words {stats.wakes}, utterances {stats.utterances}, no speech {stats.no_speech}"
    )
