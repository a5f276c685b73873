"""``assistant bench turn``: from the end of speech to the MQTT command and the first audio of the reply.

The whole path after the end of speech, through the service's own turn code (``turnrun.py``): a live
audio turn, the engine under the tool-call grammar (``--grammar``, default ``force`` so a model with
random weights still makes a valid call), the actions thread, a real Mosquitto holding a generated home
(``--homes``, default 20, 60 and 200 devices) and espeak-ng TTS. Over the spoken commands of
``turnhome.COMMANDS`` (switch, dim, cover, climate, questions; espeak-ng), per home size:

- p50/p95 of end of speech -> first token, -> tool call complete, -> command published and acknowledged
  (PUBACK), -> first audio of the reply;
- the breakdown per stage: the part of the model step run ahead in the end silence (``ahead_of_close``:
  the stages below include it), the wait for the live audio to be caught up, the remaining audio encode,
  prompt rendering, the prefill (with its tokens), each kind of decoder pass after it (a free token with
  the forced span fed with it, a forced span alone, a closed-set scoring pass), the choices (masking and
  sampling), validation and publish, each with its token counts.

``--variants`` measures engine settings A/B, interleaved per command so both see the same load.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from assistant.benchmarks.report import Report, percentile
from assistant.benchmarks.turnhome import COMMANDS
from assistant.benchmarks.turnrun import HomeRun, TurnSample
from assistant.errors import AssistantError


class UsageError(AssistantError):
    exit_code = 2

TARGET_P50_MS, TARGET_P95_MS = 1000.0, 1500.0
TARGET_HOMES = (20, 60)
MOMENTS = (("first_token", "first_token"), ("tool_call", "tool_call"), ("action", "action"),
           ("first_audio", "first_audio"))
VARIANTS: dict[str, dict[str, Any]] = {  # name -> GrammarEngine attributes ("trim": how the live audio closes)
    "base": {},  # the service as it is
    "no_trim": {"trim": False},  # the live audio keeps the endpointer's whole end silence (before this change)
    "score": {"scoring": "auto"},  # closed choices scored in one batched pass where the Pi 5 policy says so
    "score_measured": {"scoring": "measured"},  # ... where a policy timed on this machine and model says so
    "step_rest": {"batch_rest": False},  # audio waiting at the close fed second by second (before this change)
    "no_pause": {"pause": False},  # the live audio is not told when the end silence begins (before that change)
    "no_speculate": {"speculate": False},  # the step starts at the close, not ahead in the end silence (before this change)
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("turn", help="end of speech to MQTT command and first audio, through the service")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: model.dir from the config)")
    parser.add_argument("--homes", default="20,60,200", help="generated home sizes, comma-separated (default 20,60,200)")
    parser.add_argument("--commands", type=int, default=len(COMMANDS),
                        help=f"spoken commands per home (default {len(COMMANDS)}, all)")
    parser.add_argument("--grammar", choices=("force", "constrain"), default="force",
                        help="service.tool_grammar for the run (default force: every reply is a call)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: the config's)")
    parser.add_argument("--q4-block", type=int, choices=(32, 64, 128, 256),
                        help="4-bit block of the optimised decoder (default: model.q4_block)")
    parser.add_argument("--variants", default="base", help=f"engine variants, interleaved per command: "
                        f"{', '.join(VARIANTS)} (default base)")
    parser.add_argument("--greedy", action="store_true", help="greedy decoding (a random-weight model then makes the "
                        "same call every turn); by default each turn samples with its own seed, so the calls vary")
    parser.add_argument("--fast", action="store_true", help="feed audio as fast as possible (tests; not a latency figure)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)


def _say(msg: str) -> None:
    print(f"bench turn: {msg}", file=sys.stderr, flush=True)


def _run(args: Any) -> int:
    from assistant.config import load_config, model_dir

    try:
        homes = [int(h) for h in args.homes.split(",") if h.strip()]
    except ValueError:
        raise UsageError(f"--homes {args.homes!r}: give sizes like 20,60,200") from None
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise UsageError(f"--variants: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(VARIANTS)}")
    if any(h < 20 for h in homes) or not homes:
        raise UsageError("--homes: every home needs at least 20 devices (the commands name the first 20)")
    if not 1 <= args.commands <= len(COMMANDS):
        raise UsageError(f"--commands must be 1..{len(COMMANDS)}")
    config = load_config(getattr(args, "config", None))
    if args.q4_block is not None:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, q4_block=args.q4_block))
    root = Path(args.model).expanduser() if args.model else model_dir(config)
    report = measure(config, root, homes, COMMANDS[: args.commands], args.grammar, variants, args.threads,
                     realtime=not args.fast, sample=not args.greedy)
    if args.json:
        return report.emit(True)
    print(table(report))
    return 0


def load(config: Any, root: Path, threads: int) -> Any:
    """The model as the service loads it (optimised graphs, prefix cache, audio), ``threads`` if given."""
    from assistant.config import graph_cache_dir
    from assistant.engine.graphs.model_dir import check_dir
    from assistant.engine.model import GemmaModel
    from assistant.service.wiring import resolved_model_config

    check_dir(root)
    cfg = resolved_model_config(config)
    if threads:
        cfg = dataclasses.replace(cfg, threads=threads)
    return GemmaModel.load(root, cfg, graph_cache=graph_cache_dir(config), progress=_say)


def clips(commands: tuple[tuple[str, str], ...]) -> list[tuple[str, str, Any]]:
    """Each command spoken by espeak-ng (voices in turn), as 16 kHz samples."""
    from assistant.audio.clips import VOICES, espeak

    return [(kind, text, espeak(text, VOICES[i % len(VOICES)], 170)) for i, (kind, text) in enumerate(commands)]


def configure(engine: Any, variant: str, seed: int | None) -> None:
    """Set ``variant`` on the service's grammar engine, and sampling with ``seed`` (None: the config's decoding)."""
    from assistant.engine.audio import liveturn
    from assistant.engine.decoding.sampling import SamplingParams
    from assistant.engine.grammar.jumpforward import Scoring

    engine.scoring = None
    liveturn.BATCH_REST = True
    liveturn.SPECULATE = True
    for name, value in VARIANTS[variant].items():
        if name == "batch_rest":
            liveturn.BATCH_REST = bool(value)
        elif name == "speculate":
            liveturn.SPECULATE = bool(value)
        elif name == "scoring":
            engine.scoring = Scoring() if value == "auto" else Scoring(measured_policy(engine.model))
        elif name not in ("trim", "pause"):  # how the live audio is fed, not engine attributes
            setattr(engine, name, value)
    if seed is not None:
        engine.options = engine.model.options(sampling=SamplingParams(True, 1.0, 64, 0.95, seed))


_POLICIES: dict[int, Any] = {}


def measured_policy(model: Any) -> Any:
    """``scoring.measure_policy`` on ``model`` (a one-token pass against a 64-token batch), once per model."""
    from assistant.engine.grammar.scoring import measure_policy

    if id(model) not in _POLICIES:
        ids = model.tokenizer("turn on the kitchen light", add_special_tokens=False)["input_ids"]
        _, cache = model.decoder.forward(*model.decoder.embed(ids), model.decoder.empty_cache())
        _POLICIES[id(model)] = policy = measure_policy(model.decoder, cache)
        _say(f"measured scoring policy: one-token pass {policy.decode_pass_s * 1000:.0f} ms, "
             f"{policy.prefill_token_s * 1000:.1f} ms per token in a batched pass")
    return _POLICIES[id(model)]


def measure(config: Any, root: Path, homes: list[int], commands: tuple[tuple[str, str], ...], mode: str,
            variants: list[str], threads: int = 0, realtime: bool = True, sample: bool = True) -> Report:
    from assistant.audio.tts import make_tts

    model = load(config, root, threads)
    if not model.has_audio:
        raise AssistantError(f"{root} has no audio encoder: the turn benchmark speaks to the model")
    spoken = clips(commands)
    tts = make_tts(config.tts)
    end_silence = config.vad.end_silence_ms / 1000
    samples: dict[int, list[TurnSample]] = {}
    info: dict[int, dict[str, int]] = {}
    turn_id = 0
    for size in homes:
        _say(f"home of {size} devices: broker, discovery, system turn")
        with HomeRun(model, size, config.model.system_prompt, tts, mode) as home:
            info[size] = {"devices": home.devices, "tools": home.tools, "system_tokens": home.warm_tokens}
            _say(f"  {home.devices} devices, {home.tools} tools, system turn {home.warm_tokens} tokens")
            got: list[TurnSample] = []
            for i, (kind, text, clip) in enumerate(spoken):
                for variant in variants if i % 2 == 0 else list(reversed(variants)):
                    configure(home.stages.engine.inner, variant, i if sample else None)  # type: ignore[union-attr]
                    turn_id += 1
                    trim = bool(VARIANTS[variant].get("trim", True))
                    pause = bool(VARIANTS[variant].get("pause", True))
                    got.append(home.turn(turn_id, kind, text, clip, end_silence, realtime, variant, trim, pause))
                    s = got[-1]
                    _say(f"  [{variant}] {text!r}: action {s.ms.get('action', float('nan')):.0f} ms, "
                         f"first audio {s.ms.get('first_audio', float('nan')):.0f} ms ({s.outcome})")
            samples[size] = got
    report = build_report(samples, info, variants, mode, realtime)
    m = model.config  # as loaded: the hardware profile's threads, the --q4-block override
    report.add("model_settings", {"backend": m.backend, "q4_block": m.q4_block, "lm_head_bits": m.lm_head_bits,
                                  "threads": m.threads}, "")
    return report


def _ms(values: list[float]) -> tuple[float, float]:
    return round(percentile(values, 50), 1), round(percentile(values, 95), 1)


def breakdown(samples: list[TurnSample]) -> dict[str, dict[str, float]]:
    """Per stage: p50/p95 of its ms per turn, p50 tokens per turn, and p50 passes per turn (decoder passes)."""
    per_turn: dict[str, list[tuple[float, int]]] = defaultdict(list)  # stage -> (ms, tokens) per turn
    for s in samples:
        stages: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        stages["wait_live"][0] += s.wait_s * 1000
        stages["ahead_of_close"][0] += s.ahead_s * 1000
        stages["encode_rest"][0] += s.encode_s * 1000
        stages["prompt"][0] += s.prompt_s * 1000
        for kind, tokens, secs in s.passes:
            stages[kind][0] += secs * 1000
            stages[kind][1] += tokens
        stages["validate"][0] += s.validate_s * 1000
        stages["publish"][0] += s.puback_s * 1000
        for name, (ms, fed) in stages.items():
            per_turn[name].append((ms, round(fed)))
    out = {}
    for name, vals in per_turn.items():
        counts = [n for _, n in vals]
        out[name] = {"p50_ms": round(percentile([v for v, _ in vals], 50), 1),
                     "p95_ms": round(percentile([v for v, _ in vals], 95), 1),
                     "tokens_p50": percentile([float(n) for n in counts], 50)}
    for s in samples:
        for kind, _, _ in s.passes:
            out[kind].setdefault("passes_p50", percentile([float(sum(k == kind for k, _, _ in t.passes)) for t in samples], 50))
    return out


def build_report(samples: dict[int, list[TurnSample]], info: dict[int, dict[str, int]], variants: list[str],
                 mode: str, realtime: bool) -> Report:
    """Headline percentiles over every home, then per home (and per variant after the first), breakdowns, turns."""
    report = Report("end of speech to action and reply (assistant bench turn)")
    first = variants[0]
    everything = [s for got in samples.values() for s in got if s.variant == first]
    for name, stage in MOMENTS:
        p50, p95 = _ms([s.ms[stage] for s in everything if stage in s.ms])
        report.add(f"speech_end_to_{name}_p50_ms", p50, "ms")
        report.add(f"speech_end_to_{name}_p95_ms", p95, "ms")
    for size, got in samples.items():
        report.add(f"home_{size}", info[size], "")
        for variant in variants:
            mine = [s for s in got if s.variant == variant]
            sfx = f"_{size}" if variant == first else f"_{size}_{variant}"
            for name, stage in MOMENTS:
                p50, p95 = _ms([s.ms[stage] for s in mine if stage in s.ms])
                target = size in TARGET_HOMES and name == "action" and variant == first
                report.add(f"speech_end_to_{name}_p50_ms{sfx}", p50, "ms", target=f"<= {TARGET_P50_MS:.0f}" if target else "",
                           ok=(p50 <= TARGET_P50_MS) if target else None)
                report.add(f"speech_end_to_{name}_p95_ms{sfx}", p95, "ms", target=f"<= {TARGET_P95_MS:.0f}" if target else "",
                           ok=(p95 <= TARGET_P95_MS) if target else None)
            report.add(f"turns_ok{sfx}", sum(s.outcome == "ok" for s in mine), f"of {len(mine)}")
            report.add(f"audio_rows_prefilled_live_p50{sfx}", percentile([float(s.prefilled_live) for s in mine], 50))
            report.add(f"breakdown{sfx}", breakdown(mine), "")
    report.add("turns", [{"home": size, "variant": s.variant, "kind": s.kind, "utterance": s.utterance, "ms": s.ms,
                          "call": s.call, "outcome": s.outcome, "counts": s.counts,
                          "passes": [[k, n, round(t * 1000, 1)] for k, n, t in s.passes]}
                         for size, got in samples.items() for s in got], "")
    report.notes.append(f"tool_grammar = {mode}; end of speech = the live audio closed after the endpointer's "
                        "end silence (its own delay: 'assistant bench audio'); first audio = the first TTS chunk")
    if not realtime:
        report.notes.append("--fast: audio fed faster than real time; the figures are not latencies")
    return report


def table(report: Report) -> str:
    """The readable form: headline rows, then one breakdown table per home (and variant)."""
    lines = report.table().splitlines()
    out = [line for line in lines if not line.startswith(("breakdown", "turns  ", "home "))]
    for row in report.rows:
        if row.key.startswith("home_"):
            out.append(f"{row.key.replace('_', ' ')}: {row.value}")
        if not row.key.startswith("breakdown"):
            continue
        out += ["", f"{row.key.replace('_', ' ')}: stage           p50 ms   p95 ms   tokens p50   passes p50"]
        for stage, v in row.value.items():
            passes = v.get("passes_p50")
            out.append(f"  {stage:<28} {v['p50_ms']:>8.1f} {v['p95_ms']:>8.1f} {v['tokens_p50']:>12.0f}"
                       + (f" {passes:>12.0f}" if passes is not None else ""))
    return "\n".join(out)
