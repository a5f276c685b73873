"""The ear on the evaluation set: wake word, hand-over and endpointing, run as the service runs them.

Per wake sample (``evalset.WakeSample``), frames of 10 ms go through the service loop's
order: while idle the endpointer is fed (pre-roll, noise floor), then the wake-word detector;
on a detection the endpointer starts ``after_wake``; while listening only the endpointer is
fed, until it hands out an utterance or gives up. Outcomes:
- *detected*: the detector fired between the phrase's start and 0.5 s after its end;
- *wake tail*: the utterance's audio (pre-roll included) begins before the phrase's audible end;
- *lost command*: detected, but no utterance holds the command (none at all, or one whose
  audio starts more than 0.1 s after the command's start or ends 0.1 s before its end);
- *endpoint error*: utterance end minus the command's audible end; *delay*: the moment the
  utterance is handed out (end of the frame that emitted it) minus the command's audible end.
Scores are also traced so thresholds can be chosen afterwards (:func:`sweep`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.audio.endpoint import TAIL_S, Endpointer, NoSpeech, Utterance
from assistant.audio.evalset import EvalSet, WakeSample
from assistant.audio.factory import make_vad
from assistant.audio.wakeword import Detector, bundled
from assistant.config.schema import VadConfig, WakeWordConfig
from assistant.protocols import SAMPLE_RATE, Samples, Vad, WakeWord

FRAME = SAMPLE_RATE // 100
DETECT_AFTER_S = 0.5  # a detection later than this after the phrase is not a detection of it
TAIL_TOL_S = 0.01  # labels are on 10 ms frames


@dataclass(frozen=True)
class Outcome:
    sample: WakeSample
    detected: bool
    other_fires: int  # fires outside the wake phrase (during the lead or the command)
    peak: float  # highest score from the phrase's start to DETECT_AFTER_S after its end
    wake_tail: bool = False
    lost: bool = False
    end_error_ms: float | None = None
    delay_ms: float | None = None


def frames(samples: Samples) -> Iterable[Samples]:
    for i in range(len(samples) // FRAME):
        yield samples[i * FRAME : (i + 1) * FRAME]


def run_sample(audio: Samples, sample: WakeSample, detector: Detector, vad: Vad, vad_config: VadConfig) -> Outcome:
    endpointer = Endpointer(vad_config, vad)
    fired: float | None = None
    other = 0
    peak = 0.0
    result: Utterance | NoSpeech | None = None
    emitted = 0.0
    t = 0.0
    for frame in frames(audio):
        t += FRAME / SAMPLE_RATE
        listening = endpointer.active
        if not listening and result is None:
            endpointer.feed(frame)
        heard = detector.detect(frame)
        in_phrase = sample.wake_start <= t <= sample.wake_end + DETECT_AFTER_S
        if in_phrase:
            peak = max(peak, detector.score)
        if heard and not in_phrase:
            other += 1
        if heard and in_phrase and fired is None and not listening:
            fired = t
            endpointer.start(endpointer.t, after_wake=True)
        elif listening:
            event = endpointer.feed(frame)
            if isinstance(event, Utterance | NoSpeech) and result is None:
                result, emitted = event, endpointer.t
    outcome = Outcome(sample, fired is not None, other, peak)
    if fired is None:
        return outcome
    if not isinstance(result, Utterance):
        return dataclasses.replace(outcome, lost=True)
    tail = 0.0 if result.capped else min(TAIL_S, vad_config.end_silence_ms / 1000)
    audio_start = result.end_t + tail - result.duration_s
    covers = audio_start <= sample.cmd_start + 0.1 and result.end_t + tail >= sample.cmd_end - 0.1
    return dataclasses.replace(
        outcome,
        wake_tail=audio_start < sample.wake_end - TAIL_TOL_S,
        lost=not covers,
        end_error_ms=(result.end_t - sample.cmd_end) * 1000,
        delay_ms=(emitted - sample.cmd_end) * 1000,
    )


def run_set(evalset: EvalSet, thresholds: dict[str, float], vad_config: VadConfig, wake_config: WakeWordConfig,
            progress: Callable[[str], None] = lambda m: None) -> list[Outcome]:
    """Every wake sample through its own model at ``thresholds[model]``."""
    models = {m: bundled(m) for m in sorted({s.wake_model for s in evalset.samples})}
    vad = make_vad(vad_config)
    outcomes = []
    for i, sample in enumerate(evalset.samples):
        model = models[sample.wake_model]
        model.reset()
        reset = getattr(vad, "reset", None)
        if callable(reset):
            reset()
        detector = Detector(model, dataclasses.replace(wake_config, model=sample.wake_model,
                                                       threshold=thresholds[sample.wake_model]))
        outcomes.append(run_sample(evalset.audio(sample.file), sample, detector, vad, vad_config))
        if (i + 1) % 100 == 0:
            progress(f"{vad_config.engine}: {i + 1}/{len(evalset.samples)} wake samples")
    return outcomes


def score_trace(model: WakeWord, audio: Samples) -> np.ndarray:
    model.reset()
    return np.array([model.predict(f) for f in frames(audio)], dtype=np.float32)


def count_fires(trace: np.ndarray, threshold: float, refractory_s: float) -> int:
    """Detections the ``Detector`` would make on a score trace: one per rise above the threshold."""
    fires, armed, last = 0, True, -(10**9)
    above = trace >= threshold
    for i in np.flatnonzero(above):
        if i > 0 and not above[i - 1]:
            armed = True
        if armed and (i - last) / 100 >= refractory_s:
            fires, armed, last = fires + 1, False, int(i)
    return fires


GRID = tuple(round(float(x), 2) for x in np.arange(0.30, 0.991, 0.05))


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    detection: float
    false_accepts_per_hour: float


def sweep(peaks: Sequence[float], traces: Sequence[np.ndarray], hours: float, refractory_s: float,
          grid: Sequence[float] = GRID) -> list[CurvePoint]:
    """Detection rate (peak >= threshold) and false accepts per hour over a grid of thresholds."""
    points = []
    for th in grid:
        detection = sum(p >= th for p in peaks) / max(1, len(peaks))
        fires = sum(count_fires(tr, th, refractory_s) for tr in traces)
        points.append(CurvePoint(float(th), float(detection), fires / hours if hours else 0.0))
    return points


def choose(points: Sequence[CurvePoint], max_fa_per_hour: float = 0.5) -> CurvePoint:
    """The threshold with the best detection at no more than ``max_fa_per_hour`` (ties: the higher threshold)."""
    allowed = [p for p in points if p.false_accepts_per_hour <= max_fa_per_hour] or [max(points, key=lambda p: p.threshold)]
    best = max(p.detection for p in allowed)
    return max((p for p in allowed if p.detection >= best - 1e-9), key=lambda p: p.threshold)
