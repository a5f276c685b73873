"""``assistant bench engine``: decode/prefill speed against the memory-bandwidth ceiling, overhead, TTFT,
memory, audio latency and decoded tokens per command, on a model directory (the shape-faithful E2B
from ``models/shape_faithful_e2b.py`` or the real one).

The decoder runs as the load-time optimisation pass leaves it (``assistant.engine.optimize``; the
pass runs in a child process so its one-off memory does not count in the peak RSS) unless
``--no-optimize``. Figures that need work not done yet are printed as "not measured yet" (null in JSON).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import multiprocessing
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.benchmarks import engine_probes as probes
from assistant.benchmarks.bandwidth import best_read_bandwidth
from assistant.benchmarks.report import Report
from assistant.config import load_config, model_dir, state_dir
from assistant.config.schema import ModelConfig
from assistant.engine import contract
from assistant.engine.decode import Decoder
from assistant.engine.features import FeatureExtractor
from assistant.engine.model import GemmaModel
from assistant.engine.model_dir import Selection, check_dir, check_graph_files, graph_file
from assistant.engine.optimize import OptimizeOptions, optimize_graph
from assistant.engine.ple_setup import ensure_ple_store, store_path
from assistant.engine.ple_store import mapping_rss_bytes
from assistant.engine.prompt import load_tokenizer
from assistant.engine.sessions import open_graph
from assistant.engine.spec import load_generation_spec, load_model_spec, load_processor_spec
from assistant.errors import AssistantError

MB = 1e6
BUILD_HINT = ("build the shape-faithful model with 'python models/shape_faithful_e2b.py models/out/e2b'"
              " and pass --model models/out/e2b")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("engine", help="engine speed and memory on a model directory (issue 8 figures)")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: model.dir from the config)")
    parser.add_argument("--steps", type=int, default=12, help="decoded tokens per decode measurement (default 12)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: every core)")
    parser.add_argument("--no-optimize", action="store_true", help="run the published decoder graph as it is")
    parser.add_argument("--head-bits", type=int, choices=(0, 4, 8), default=8, help="LM head quantization (0 = none)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache for optimised graphs and the PLE store (default: <state_dir>/cache/graphs)")
    parser.add_argument("--no-ple-store", action="store_true",
                        help="do not build a per-layer embedding store when the model has none")
    parser.add_argument("--compare", action="store_true",
                        help="also time the published decoder against the optimised one, interleaved (more memory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)


def _say(msg: str) -> None:
    print(f"bench engine: {msg}", file=sys.stderr, flush=True)


def _optimized(src: Path, cache: Path, opts: OptimizeOptions) -> Path:
    """Run the pass in a child process (its memory stays out of this process's peak RSS)."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(optimize_graph, src, cache, opts, None).result()


def load_model(root: Path, cfg: ModelConfig, decoder_path: Path, audio: bool = True,
               audio_path: Path | None = None) -> GemmaModel:
    """``GemmaModel.load`` with the decoder session opened from ``decoder_path`` (e.g. the optimised graph).

    Mirrors ``GemmaModel.load`` so the published decoder is never opened next to the optimised one
    (that would count twice in the peak RSS). The engine should take ``decoder_path`` itself (hook).
    """
    check_dir(root)
    spec = load_model_spec(root)
    tokenizer = load_tokenizer(root)
    processor = load_processor_spec(root)
    mel_bins = int(processor.feature_extractor.get("feature_size", 128))
    graphs = {}
    for name, precision in Selection(cfg.decoder_precision, cfg.embed_precision, cfg.audio_precision).items():
        path = {"decoder_model_merged": decoder_path, "audio_encoder": audio_path}.get(name) or root / graph_file(name, precision)
        if name == "audio_encoder" and not (audio and spec.has_audio and path.is_file()):
            continue
        check_graph_files(root, name, precision)  # the published files are whole
        graph = open_graph(name, path, cfg.threads)
        contract.check_graph(name, path.name, graph.inputs, graph.outputs, spec, mel_bins)
        graphs[name] = graph
    features = FeatureExtractor(processor.feature_extractor) if "audio_encoder" in graphs else None
    decoder = Decoder(graphs["embed_tokens"], graphs["decoder_model_merged"], spec)
    return GemmaModel(root, cfg, spec, load_generation_spec(root), processor, tokenizer, decoder,
                      graphs.get("audio_encoder"), features)


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    root = Path(args.model).expanduser() if args.model else model_dir(config)
    if not (root / "onnx").is_dir():
        raise AssistantError(f"{root}: no model directory here; {BUILD_HINT}")
    check_dir(root)
    if args.steps < 2:
        raise AssistantError("--steps must be at least 2")
    threads = args.threads or probes.cores()
    cfg = replace(config.model, threads=threads)
    src = root / graph_file("decoder_model_merged", cfg.decoder_precision)
    if not src.is_file():
        raise AssistantError(f"{src}: missing; {BUILD_HINT}")
    decoder_path = src
    audio_path = None
    cache = Path(args.cache_dir).expanduser() if args.cache_dir else state_dir(config) / "cache" / "graphs"
    if not args.no_optimize:
        _say(f"optimising {src.name} (cached in {cache})")
        decoder_path = _optimized(src, cache, OptimizeOptions(head_bits=args.head_bits))
        audio_src = root / graph_file("audio_encoder", cfg.audio_precision)
        if audio_src.is_file():
            audio_path = _optimized(audio_src, cache, OptimizeOptions(head_bits=0, last_logits=False))
    _say(f"loading {root} ({threads} threads)")
    report = Report(f"Engine benchmark: {root.name} ({cfg.decoder_precision}, {threads} threads)")
    report.add("model", str(root))
    report.add("decoder_graph", str(decoder_path))
    report.add("audio_graph", str(audio_path) if audio_path else "as published (or none)")
    report.add("threads", threads)
    # the model is passed without keeping a reference here, so measure() can free it before the thread sweep
    measure(load_model(root, cfg, decoder_path, audio_path=audio_path), decoder_path, args.steps, threads, report, cache,
            build_ple=not args.no_ple_store)
    if args.compare and decoder_path != src:
        _compare(report, root, src, decoder_path, args.steps, threads)
    return report.emit(args.json)


def _compare(report: Report, root: Path, src: Path, optimized: Path, steps: int, threads: int) -> None:
    """Published vs optimised decoder on the same prompt, steps interleaved (text-only model)."""
    _say("published vs optimised decoder, interleaved")
    cfg = replace(ModelConfig(), threads=threads)
    model = load_model(root, cfg, optimized, audio=False)
    published = Decoder(model.decoder.embed_graph, open_graph("decoder_model_merged", src, threads), model.spec)
    result = probes.ab_compare(model, {"published": published, "optimised": model.decoder}, steps)
    for name, (prefill, decode) in result.items():
        report.add(f"{name}_prefill_tok_s", prefill, "tok/s", label=f"prefill, {name} decoder (A/B)")
        report.add(f"{name}_decode_tok_s", decode, "tok/s", label=f"decode, {name} decoder (A/B)")
    report.add("optimise_decode_speedup", result["optimised"][1] / result["published"][1], "x",
               label="decode speed-up from the optimisation pass")
    report.add("optimise_prefill_speedup", result["optimised"][0] / result["published"][0], "x",
               label="prefill speed-up from the optimisation pass")


def _target(report: Report, key: str, value: float | None, unit: str, op: str, goal: float, label: str = "") -> None:
    """A figure with its target, verdict and margin (value minus goal, signed so positive is good)."""
    if value is None or value != value:
        report.add(key, None, unit, label=label, target=f"{op} {goal:g}")
        return
    ok = value >= goal if op == ">=" else value <= goal
    margin = value - goal if op == ">=" else goal - value
    report.add(key, value, unit, label=label, target=f"{op} {goal:g}, margin {margin:+.3g}", ok=ok)


def measure(model: GemmaModel, decoder_path: Path, steps: int, threads: int, report: Report, cache_dir: Path,
            build_ple: bool = True) -> None:
    """Every figure, in an order that keeps the memory peak honest (bandwidth buffer last)."""
    dec = model.decoder
    _say("warm-up")
    probes.decode_steps(model, dec, 2)
    _say(f"decoding {steps} tokens")
    bare: list[float] = []
    run = probes.decode_steps(model, dec, steps, bare)
    step_ms = probes.median_ms(run.step_s)
    decode_tok_s = 1000 / step_ms
    weights = probes.decoder_weight_bytes(decoder_path)
    per_token = weights + run.kv_bytes
    overhead_ms = step_ms - probes.median_ms(bare)

    _say("time to first token")
    system = probes.system_prompt(model, 400)
    system_tokens = len(model.tokenizer(system, add_special_tokens=False)["input_ids"])
    ttft_none = min(probes.ttft_s(model, probes._messages())[0] for _ in range(2))
    ttft_long, long_t = probes.ttft_s(model, probes._messages(system=system))
    cache = probes.prefix_cache(model, system)
    ttft_cached = min(probes.ttft_s(model, probes._messages(system=system), cache)[0] for _ in range(2))
    prefill_tok_s = long_t.prefill_tokens_per_s

    audio: dict[float, Any] = {}
    if model.has_audio:
        for seconds in (1.0, 3.0, 10.0):
            _say(f"end of speech to first token, {seconds:g} s utterance")
            audio[seconds] = probes.eos_to_first_token(model, seconds)

    ple_store = store_path(dec.embed_graph.path, cache_dir, 8)
    store_resident, store_err = None, None
    if ple_store.is_file() or build_ple:
        store = ensure_ple_store(dec.embed_graph.path, dec.embed_graph.session, model.spec.text.vocab_size, cache_dir, 8,
                                 _say)
        used = sorted(set(probes.prompt(model, probes._messages(system=system)).ids))
        rows = store.lookup(used)
        _, graph_rows = dec.embed(used)
        store_err = float(abs(rows - graph_rows[0]).max() / max(float(abs(graph_rows).max()), 1e-9))
        store_resident = store.resident_bytes() / MB
    embed_data = dec.embed_graph.path.with_name(dec.embed_graph.path.name + "_data")
    embed_resident = mapping_rss_bytes(embed_data) / MB
    peak_rss = probes.peak_rss_bytes() / MB

    _say("decode with one core kept busy")
    with probes.BusyCore():
        busy = probes.decode_steps(model, dec, steps)
    busy_tok_s = 1000 / probes.median_ms(busy.step_s)

    _say("memory read bandwidth")
    bw = best_read_bandwidth(threads)
    ceiling = bw.gb_per_s * 1e9 / per_token

    report.add("read_bandwidth_gb_s", bw.gb_per_s, "GB/s", label=f"memory read bandwidth ({bw.threads} threads)")
    report.add("decoder_weight_mb", weights / MB, "MB", label="decoder weights read per step")
    report.add("bytes_per_token_mb", per_token / MB, "MB", label=f"bytes read per decoded token (KV at {run.context})")
    report.add("decode_tok_s", decode_tok_s, "tok/s", label=f"decode ({threads} threads)")
    report.add("decode_ceiling_tok_s", ceiling, "tok/s", label="bandwidth ceiling")
    _target(report, "decode_to_ceiling_ratio", decode_tok_s / ceiling, "", ">=", 0.85, "decode / ceiling")
    report.add("prefill_tok_s", prefill_tok_s, "tok/s", label=f"prefill ({long_t.prompt_tokens} tokens)")
    report.add("step_ms", step_ms, "ms", label="decode step (engine loop)")
    report.add("bare_step_ms", probes.median_ms(bare), "ms", label="decode step (bare session.run)")
    _target(report, "overhead_ms_per_step", overhead_ms, "ms", "<=", 1.0, "engine overhead per step")
    report.add("ttft_none_s", ttft_none, "s", label="TTFT, no system prompt")
    report.add("ttft_400_s", ttft_long, "s", label=f"TTFT, {system_tokens}-token system prompt")
    report.add("ttft_400_cached_s", ttft_cached, "s", label=f"TTFT, same with its {cache.length}-token prefix KV cached")
    report.add("ttft_prefix_ratio_uncached", ttft_long / ttft_none, "x", label="TTFT ratio without prefix cache")
    _target(report, "ttft_prefix_ratio", ttft_cached / ttft_none, "x", "<=", 1.1, "TTFT ratio, 400-token prompt / none")
    _target(report, "peak_rss_mb", peak_rss, "MB", "<=", 1500, "peak RSS")
    _target(report, "ple_resident_mb", store_resident if store_resident is not None else embed_resident, "MB", "<=", 100,
            "per-layer embeddings resident" + (" (store)" if store_resident is not None else " (embed graph)"))
    report.add("embed_graph_resident_mb", embed_resident, "MB", label="embed_tokens tables resident")
    report.add("ple_store_max_rel_err", store_err, "", label=f"{ple_store.name} vs graph, max |err| / max |x|")
    _audio_rows(report, audio)
    counts = probes.free_tokens(model)
    report.add("free_tokens_per_command", counts, "", label="freely decoded tokens, ten commands")
    _target(report, "max_free_tokens_per_command", float(max(counts)), "tokens", "<=", 8, "most free tokens per command")
    _target(report, "busy_core_decode_ratio", busy_tok_s / decode_tok_s, "", ">=", 0.9, "decode with a busy core / quiet")
    report.add("iobinding_decode_tok_s", None, "tok/s", label="decode with IOBinding and a shared KV buffer")
    root = model.model_dir
    del dec, model
    gc.collect()
    _thread_sweep(report, root, decoder_path, steps)


def _audio_rows(report: Report, audio: dict[float, Any]) -> None:
    if not audio:
        for key in ("audio_encoder_s_per_audio_s", "eos_to_first_token_1s_s", "eos_to_first_token_3s_s",
                    "eos_to_first_token_10s_s"):
            report.add(key, None, "s", label=key.replace("_", " ") + " (model has no audio encoder)")
        _target(report, "eos_to_first_token_ratio_10s_1s", None, "x", "<=", 1.2)
        return
    report.add("audio_encoder_s_per_audio_s", audio[10.0].encoder_s / 10.0, "s/s", label="audio encoder per second of audio")
    for seconds, t in audio.items():
        report.add(f"eos_to_first_token_{seconds:g}s_s", probes.eos_total_s(t), "s",
                   label=f"end of speech to first token, {seconds:g} s ({t.audio_tokens} audio tokens)")
    ratio = probes.eos_total_s(audio[10.0]) / probes.eos_total_s(audio[1.0])
    _target(report, "eos_to_first_token_ratio_10s_1s", ratio, "x", "<=", 1.2, "end of speech to first token, 10 s / 1 s")
    report.add("streaming_eos_to_first_token_10s_s", None, "s", label="end of speech to first token, 10 s, streamed prefill")


def _thread_sweep(report: Report, root: Path, decoder_path: Path, steps: int) -> None:
    """Decode at 1, 2 and all cores, each with a fresh text-only model (the big one is released first)."""
    sweep = sorted({1, 2, probes.cores()})
    for t in sweep:
        _say(f"decode with {t} thread(s)")
        model = load_model(root, replace(ModelConfig(), threads=t), decoder_path, audio=False)
        probes.decode_steps(model, model.decoder, 2)  # warm-up
        run = probes.decode_steps(model, model.decoder, steps)
        report.add(f"decode_tok_s_{t}_threads", 1000 / probes.median_ms(run.step_s), "tok/s", label=f"decode, {t} thread(s)")
        del model, run
        gc.collect()
