"""``assistant bench audio``: CPU cost of idle listening and the endpointing delay.

Method. All audio is generated here, so the truth is known: espeak-ng commands in five
voices placed in silence with noise at a known SNR, and "idle" audio of other speech
(espeak-ng paragraphs, alsa-utils recordings) and noise with no wake word in it.
- Idle CPU: the wake word and the VAD run on every 10 ms frame of the idle audio; the CPU
  time of this thread is taken per second of audio, as a fraction of one core.
- Endpoint delay: from the true end of speech to the moment the utterance is handed out,
  i.e. the position on the audio timeline of the frame that emitted it, minus the true end,
  plus the wall time that frame took to process.
- VAD comparison: webrtcvad and Silero on the same clips in white, pink and recorded noise
  at 20, 10 and 5 dB SNR: how many utterances were found with their end within 150 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

import numpy as np

from assistant.audio.clips import VOICES, Clip, alsa_speech, espeak, noise, place
from assistant.audio.endpoint import Endpointer, Utterance
from assistant.audio.factory import make_vad, make_wakeword
from assistant.benchmarks.report import Report, median, percentile
from assistant.config import load_config
from assistant.config.schema import VadConfig
from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE

COMMANDS = (
    "turn on the kitchen light",
    "what is the temperature in the living room",
    "set the bedroom heating to twenty degrees",
    "close the garage door please",
)
IDLE_TEXT = (
    "Good morning. Today the weather will be cloudy with a chance of rain in the afternoon. "
    "Please remember to water the plants and to close the windows before you leave the house."
)
FRAME = SAMPLE_RATE // 100
END_TOL_S = 0.15


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audio", help="CPU of idle listening (wake word + VAD) and endpointing delay")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--idle-seconds", type=float, default=60.0, metavar="S", help="seconds of idle audio (default 60)")
    parser.add_argument("--quick", action="store_true", help="fewer clips and no VAD comparison (for smoke tests)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.idle_seconds < 5:
        raise AssistantError("--idle-seconds must be at least 5")
    config = load_config(args.config)
    report = Report("Audio front end: idle listening and endpointing")
    progress("generating idle audio")
    idle = idle_audio(args.idle_seconds)
    progress(f"idle listening: {config.wakeword.model} + {config.vad.engine} on {len(idle) / SAMPLE_RATE:.0f} s of audio")
    cpu = idle_cpu(idle, config)
    target_cpu = 0.05
    report.add("idle_cpu_fraction_of_core", cpu["median"], "of a core", label="idle CPU (wake+VAD), median")
    report.add(
        "idle_cpu_fraction_of_core_p95", cpu["p95"], "of a core", label="idle CPU (wake+VAD), p95",
        target=f"<= {target_cpu}", ok=cpu["p95"] <= target_cpu,
    )
    report.add("wake_ms_per_frame", cpu["wake_ms"], "ms", label="wake word per 10 ms frame")
    report.add("vad_ms_per_frame", cpu["vad_ms"], "ms", label="VAD per 10 ms frame")
    voices = VOICES[:2] if args.quick else VOICES
    commands = COMMANDS[:1] if args.quick else COMMANDS
    progress(f"endpointing: {len(voices) * len(commands)} commands, {config.vad.engine}, white noise at 20 dB SNR")
    clips = [
        place(espeak(text, v), lead_s=1.5, trail_s=2.0, snr_db=20, noise_kind="white", seed=i, label=f"{v}: {text}")
        for i, (v, text) in enumerate((v, t) for v in voices for t in commands)
    ]
    delays, misses = endpoint_delays(clips, config.vad)
    end_silence = config.vad.end_silence_ms
    p95 = percentile(delays, 95)
    report.add("end_silence_ms", end_silence, "ms", label="configured end silence")
    report.add("endpoint_delay_median_ms", median(delays), "ms", label="end of speech -> utterance, median")
    report.add(
        "endpoint_delay_p95_ms", p95, "ms", label="end of speech -> utterance, p95",
        target=f"<= {end_silence + 60}", ok=bool(delays) and p95 <= end_silence + 60,
    )
    report.add("endpoint_clips", len(clips), label="clips")
    report.add("endpoint_misses", misses, label="clips with no utterance or end off by > 150 ms")
    report.add("vad_engine", config.vad.engine, label="VAD")
    report.add("wake_model", config.wakeword.model, label="wake word")
    if not args.quick:
        progress("comparing webrtcvad and Silero on noisy clips")
        report.add("vad_comparison", compare_vads(config.vad), label="VAD comparison")
        progress("bundled wake words on espeak-ng voices, and false accepts on the idle audio")
        report.add("wake_on_espeak_voices", wake_matrix(config.wakeword), label="wake word fires (voices)")
        label = f"false accepts in {len(idle) // SAMPLE_RATE} s of idle audio"
        report.add("wake_false_accepts", false_accepts(idle, config.wakeword), label=label)
    return report.emit(args.json)


def progress(message: str) -> None:
    import sys

    print(f"... {message}", file=sys.stderr, flush=True)


def idle_audio(seconds: float) -> np.ndarray:
    """Speech that is not the wake word, and noise, looped to ``seconds``."""
    rng = np.random.default_rng(7)
    parts = [espeak(IDLE_TEXT, v) for v in VOICES[:3]] + [s for _, s in alsa_speech()]
    parts += [(noise("alsa", SAMPLE_RATE * 10, rng) * 2000).astype(np.int16)]
    parts += [(noise("white", SAMPLE_RATE * 10, rng) * 300).astype(np.int16)]
    audio = np.concatenate(parts)
    return np.resize(audio, int(seconds * SAMPLE_RATE)).astype(np.int16)


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


def endpoint_delays(clips: list[Clip], vad_config: VadConfig) -> tuple[list[float], int]:
    """Delays (ms) from true end of speech to the utterance, and the number of misses."""
    delays: list[float] = []
    misses = 0
    for clip in clips:
        endpointer = Endpointer(vad_config, make_vad(vad_config))
        result = None
        for i in range(len(clip.samples) // FRAME):
            frame = clip.samples[i * FRAME : (i + 1) * FRAME]
            if i == 50:  # the wake word fired 0.5 s into the clip, 1 s before the command
                endpointer.start(endpointer.t)
            began = time.perf_counter()
            event = endpointer.feed(frame)
            if isinstance(event, Utterance):
                result = (event, endpointer.t, time.perf_counter() - began)
                break
        if result is None or abs(result[0].end_t - clip.speech_end_s) > END_TOL_S:
            misses += 1
            continue
        delays.append((result[1] - clip.speech_end_s + result[2]) * 1000)
    return delays, misses


PHRASES = {"okay_nabu": "okay nabu", "hey_jarvis": "hey jarvis", "alexa": "alexa", "hey_mycroft": "hey mycroft"}


def wake_matrix(wake_config: Any) -> dict[str, str]:
    """Per bundled model: on how many espeak-ng voices (160 wpm, 20 dB white noise) it fires."""
    result = {}
    for model, phrase in PHRASES.items():
        fired = []
        for k, voice in enumerate((*VOICES, "en+f4")):
            clip = place(espeak(phrase, voice), lead_s=1.0, trail_s=1.0, snr_db=20, noise_kind="white", seed=k)
            detector = make_wakeword(dataclasses.replace(wake_config, model=model))
            frames = (clip.samples[i * FRAME : (i + 1) * FRAME] for i in range(len(clip.samples) // FRAME))
            if any(detector.detect(f) for f in frames):
                fired.append(voice)
        result[model] = f"{len(fired)}/{len(VOICES) + 1}: {' '.join(fired) or '-'}"
    return result


def false_accepts(idle: np.ndarray, wake_config: Any) -> dict[str, int]:
    """Detections per bundled model on the idle audio (which holds no wake word)."""
    counts = {}
    for model in PHRASES:
        detector = make_wakeword(dataclasses.replace(wake_config, model=model))
        counts[model] = sum(detector.detect(idle[i * FRAME : (i + 1) * FRAME]) for i in range(len(idle) // FRAME))
    return counts


def compare_vads(vad_config: VadConfig) -> dict[str, dict[str, Any]]:
    """Both VADs on the same noisy clips: found/total, delay p95, per-frame cost."""
    clips = [
        place(espeak(text, voice), lead_s=1.5, trail_s=2.0, snr_db=snr, noise_kind=kind, seed=k)
        for k, (kind, snr, voice, text) in enumerate(
            (kind, snr, voice, text)
            for kind in ("white", "pink", "alsa")
            for snr in (20, 10, 5)
            for voice in VOICES
            for text in COMMANDS[:2]
        )
    ]
    result: dict[str, dict[str, Any]] = {}
    for engine in ("webrtc", "silero"):
        config = dataclasses.replace(vad_config, engine=engine)
        try:
            make_vad(config)
        except AssistantError as err:
            result[engine] = {"error": str(err)}
            continue
        start = time.thread_time()
        delays, misses = endpoint_delays(clips, config)
        cpu = time.thread_time() - start
        audio_s = sum(len(c.samples) for c in clips) / SAMPLE_RATE
        result[engine] = {
            "found": len(clips) - misses,
            "clips": len(clips),
            "delay_median_ms": round(median(delays), 1) if delays else None,
            "delay_p95_ms": round(percentile(delays, 95), 1) if delays else None,
            "cpu_fraction_of_core": round(cpu / audio_s, 4),
        }
    return result
