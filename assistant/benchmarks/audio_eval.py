"""The ear's figures on the evaluation set, for ``assistant bench audio`` (``assistant.audio.evalset``).

Per bundled wake word: detection rate, false accepts per hour of non-wake speech, wake-tail
utterances, lost commands, endpoint error and delay (p50/p95); per noise and SNR: the same
over all wake words; the trade-off curve (detection vs false accepts per hour) per model;
with the full set, the other VAD on the same samples for comparison.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from assistant.audio.evalset import EvalSet
from assistant.audio.evaluate import Outcome, choose, count_fires, run_set, score_trace, sweep
from assistant.audio.wakeword import bundled, threshold_for
from assistant.benchmarks.audio_echo import echo_figures
from assistant.benchmarks.report import Report, median, percentile
from assistant.config import Config
from assistant.config.schema import WAKE_MODELS
from assistant.errors import AssistantError


def _r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None or x != x else round(float(x), digits)


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Counts and percentiles over some outcomes."""
    found = [o for o in outcomes if o.detected]
    kept = [o for o in found if not o.lost and o.delay_ms is not None]
    delays = [o.delay_ms for o in kept if o.delay_ms is not None]
    errors = [o.end_error_ms for o in kept if o.end_error_ms is not None]
    return {
        "samples": len(outcomes),
        "detected": len(found),
        "detection_rate": _r(len(found) / len(outcomes), 3) if outcomes else None,
        "wake_tail": sum(o.wake_tail for o in found),
        "lost": sum(o.lost for o in found),
        "fires_elsewhere": sum(o.other_fires for o in outcomes),
        "end_error_ms_p50": _r(median(errors)), "end_error_ms_p95": _r(percentile([abs(e) for e in errors], 95)),
        "delay_ms_p50": _r(median(delays)), "delay_ms_p95": _r(percentile(delays, 95)),
    }


def traces(evalset: EvalSet, progress: Callable[[str], None]) -> dict[str, list[np.ndarray]]:
    """Each bundled model's score on every non-wake stretch."""
    out: dict[str, list[np.ndarray]] = {}
    audio = [evalset.audio(s.file) for s in evalset.stretches]
    for model in WAKE_MODELS:
        progress(f"{model}: scores on {evalset.nonwake_hours * 60:.0f} minutes of non-wake speech")
        mww = bundled(model)
        out[model] = [score_trace(mww, a) for a in audio]
    return out


def add_rows(report: Report, evalset: EvalSet, config: Config, compare_vads: bool,
             progress: Callable[[str], None]) -> None:
    hours = evalset.nonwake_hours
    thresholds = {m: threshold_for(config.wakeword, m) for m in WAKE_MODELS}
    progress(f"evaluation set: {len(evalset.samples)} wake samples through wake word + {config.vad.engine} + endpointer")
    outcomes = run_set(evalset, thresholds, config.vad, config.wakeword, progress)
    scores = traces(evalset, progress)
    refractory = config.wakeword.refractory_s
    per_model: dict[str, Any] = {}
    curves: dict[str, list[list[float]]] = {}
    suggested: dict[str, float] = {}
    for model in WAKE_MODELS:
        mine = [o for o in outcomes if o.sample.wake_model == model]
        fires = sum(count_fires(t, thresholds[model], refractory) for t in scores[model])
        per_model[model] = {"threshold": thresholds[model], **summary(mine),
                            "false_accepts": fires, "false_accepts_per_hour": _r(fires / hours, 2) if hours else None}
        points = sweep([o.peak for o in mine], scores[model], hours, refractory)
        curves[model] = [[p.threshold, round(p.detection, 3), round(p.false_accepts_per_hour, 2)] for p in points]
        suggested[model] = choose(points).threshold
    found = [o for o in outcomes if o.detected]
    end_silence = config.vad.end_silence_ms
    delays_10 = [o.delay_ms for o in found if o.sample.snr_db == 10 and not o.lost and o.delay_ms is not None]
    p95_10 = percentile(delays_10, 95)
    min_detection = min(v["detection_rate"] or 0.0 for v in per_model.values())
    max_fa = max(v["false_accepts_per_hour"] or 0.0 for v in per_model.values())
    tails, lost = sum(o.wake_tail for o in found), sum(o.lost for o in found)
    report.add("eval_set", f"{evalset.size}: {len(evalset.samples)} wake samples, {hours * 60:.0f} min of non-wake speech, "
               f"{evalset.root}", label="evaluation set")
    report.add("wake_tail_utterances", tails, label="utterances holding the wake phrase's tail", target="0", ok=tails == 0)
    report.add("lost_commands", lost, label="commands lost after a detected wake word", target="0", ok=lost == 0)
    report.add("min_wake_detection_rate", _r(min_detection, 3), label="wake detection, lowest over the bundled models",
               target=">= 0.95", ok=min_detection >= 0.95)
    report.add("max_false_accepts_per_hour", _r(max_fa, 2), "per hour", label="false accepts, highest over the models",
               target="<= 0.5", ok=max_fa <= 0.5)
    report.add("endpoint_delay_p50_ms_10db", _r(median(delays_10)), "ms", label="command end -> utterance at 10 dB, p50")
    report.add("endpoint_delay_p95_ms_10db", _r(p95_10), "ms", label="command end -> utterance at 10 dB, p95",
               target=f"<= {end_silence + 100}", ok=bool(delays_10) and p95_10 <= end_silence + 100)
    report.add("wake_models", per_model, label="per wake word")
    report.add("conditions", by_condition(outcomes), label="per noise and SNR (all wake words)")
    report.add("threshold_curves", curves, label="threshold: [threshold, detection, false accepts/h]")
    report.add("suggested_thresholds", suggested, label="best detection at <= 0.5 false accepts/h on this set")
    quick = evalset.size == "quick"
    echo = echo_figures(config, (20,) if quick else (20, 10), progress, quick=quick)
    report.add("echo", echo, label="the assistant's own replies in the microphone")
    report.add("self_wakes", echo["self_wakes"], label="self-wakes on its own replies", target="0", ok=echo["self_wakes"] == 0)
    report.add("self_turns", echo["self_turns"], label="self-turns after its own replies", target="0", ok=echo["self_turns"] == 0)
    if compare_vads:
        other = "webrtc" if config.vad.engine == "silero" else "silero"
        progress(f"the same samples with vad.engine = {other}")
        try:
            alt = run_set(evalset, thresholds, dataclasses.replace(config.vad, engine=other), config.wakeword, progress)
        except AssistantError as err:
            report.add("vad_comparison", {"error": str(err)}, label="VAD comparison")
            return
        report.add("vad_comparison", {config.vad.engine: vad_figures(outcomes), other: vad_figures(alt)},
                   label="VAD comparison (same detections)")


def by_condition(outcomes: list[Outcome]) -> dict[str, Any]:
    keys = sorted({(o.sample.noise, o.sample.snr_db) for o in outcomes}, key=lambda k: (-k[1], k[0]))
    out = {}
    for noise, snr in keys:
        s = summary([o for o in outcomes if o.sample.noise == noise and o.sample.snr_db == snr])
        out[f"{noise} {snr:g} dB"] = {k: s[k] for k in ("samples", "detected", "wake_tail", "lost", "delay_ms_p50",
                                                         "delay_ms_p95", "end_error_ms_p50")}
    return out


def vad_figures(outcomes: list[Outcome]) -> dict[str, Any]:
    out = {}
    for snr in sorted({o.sample.snr_db for o in outcomes}, reverse=True):
        s = summary([o for o in outcomes if o.sample.snr_db == snr])
        out[f"{snr:g} dB"] = {"lost": f"{s['lost']}/{s['detected']}", "wake_tail": s["wake_tail"],
                              "delay_ms_p50": s["delay_ms_p50"], "delay_ms_p95": s["delay_ms_p95"]}
    return out
