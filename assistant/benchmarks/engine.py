"""``assistant bench engine``: decode/prefill speed against the memory-bandwidth ceiling, overhead, TTFT,
memory, audio latency and decoded tokens per command, on a model directory (the shape-faithful E2B
from ``models/shape_faithful_e2b.py`` or the real one), measured on the engine as users get it.

The model is loaded with ``GemmaModel.load`` and the ``model`` config (optimisation pass, prefix
cache, spin off); the pass is run first in a child process so its one-off memory does not count in
the peak RSS (``--no-optimize`` loads the published graphs). TTFT goes through ``model.stream``
with the prefix cache, end of speech to first token through ``begin_audio_turn``/``feed``/``finish``,
tokens per command come from the tool-call grammar, and the loop overhead from ``loopcost``.
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
from assistant.benchmarks import peer
from assistant.benchmarks.bandwidth import best_read_bandwidth
from assistant.benchmarks.report import Report
from assistant.config import graph_cache_dir, load_config, model_dir
from assistant.config.schema import ModelConfig
from assistant.engine.decoding.decode import Decoder
from assistant.engine.graphs.model_dir import Selection, check_dir, graph_file
from assistant.engine.graphs.optimize import OptimizeOptions, optimize_graph
from assistant.engine.graphs.optimized import pass_options
from assistant.engine.graphs.ple_setup import ensure_ple_store, store_path
from assistant.engine.graphs.ple_store import mapping_rss_bytes
from assistant.engine.graphs.sessions import open_graph
from assistant.engine.model import GemmaModel
from assistant.errors import AssistantError, ConfigError

MB = 1e6
BUILD_HINT = ("build the shape-faithful model with 'python models/shape_faithful_e2b.py models/out/e2b'"
              " and pass --model models/out/e2b")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("engine", help="engine speed and memory on a model directory (issue 8 figures)")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: model.dir from the config)")
    parser.add_argument("--steps", type=int, default=12, help="decoded tokens per decode measurement (default 12)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (default: every core)")
    parser.add_argument("--no-optimize", action="store_true", help="run the published decoder graph as it is")
    parser.add_argument("--head-bits", type=int, choices=(0, 4, 8),
                        help="LM head quantization (0 = none; default: model.lm_head_bits)")
    parser.add_argument("--q4-block", type=int, choices=(32, 64, 128, 256),
                        help="4-bit block of the optimised decoder (default: model.q4_block)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache for optimised graphs and the PLE store (default: model.graph_cache_dir)")
    parser.add_argument("--no-ple-store", action="store_true",
                        help="do not build a per-layer embedding store when the model has none")
    parser.add_argument("--compare", action="store_true",
                        help="also time the published decoder against the optimised one, interleaved (more memory)")
    parser.add_argument("--peer", choices=peer.PEERS,
                        help="also run this peer on a GGUF of the same model, alternating with the engine")
    parser.add_argument("--peer-model", metavar="GGUF", help="the peer's model file (models/gguf_e2b.py writes one)")
    parser.add_argument("--peer-rounds", type=int, default=2, help="engine, peer alternations (default 2)")
    parser.add_argument("--peer-only", action="store_true", help="only the side-by-side figures (with --peer)")
    parser.add_argument("--backend", choices=("onnxruntime", "llama.cpp"),
                        help="the engine's decoder backend (default: model.backend); llama.cpp needs --peer-only")
    parser.add_argument("--gguf", metavar="FILE", help="the engine's GGUF with --backend llama.cpp (default: model.gguf)")
    parser.add_argument("--no-repack", action="store_true",
                        help="llama.cpp (the peer, and the engine with --backend llama.cpp): no weight repacking at load")
    parser.add_argument("--with-audio", action="store_true",
                        help="side by side: the engine's process loads the audio encoder too (its peak RSS as run has it)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)


def _say(msg: str) -> None:
    print(f"bench engine: {msg}", file=sys.stderr, flush=True)


def _optimized(src: Path, cache: Path, opts: OptimizeOptions) -> Path:
    """Run the pass in a child process (its memory stays out of this process's peak RSS)."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(optimize_graph, src, cache, opts, None).result()


def _prebuild(root: Path, cfg: ModelConfig, cache: Path) -> None:
    """Build the optimised graphs ``GemmaModel.load`` will want, in a child process (kept out of the peak RSS)."""
    for name, precision in Selection(cfg.decoder_precision, cfg.embed_precision, cfg.audio_precision).items():
        if cfg.backend == "llama.cpp" and name != "audio_encoder":
            continue  # the decoder runs from the GGUF
        src = root / graph_file(name, precision)
        opts = pass_options(name, precision, cfg)
        if opts is not None and src.is_file():
            _say(f"optimising {src.name} (cached in {cache})")
            _optimized(src, cache, opts)


def _load(root: Path, cfg: ModelConfig, cache: Path, audio: bool = True) -> GemmaModel:
    return GemmaModel.load(root, cfg, audio=audio, graph_cache=cache, progress=_say)


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    root = Path(args.model).expanduser() if args.model else model_dir(config)
    if not (root / "onnx").is_dir():
        raise AssistantError(f"{root}: no model directory here; {BUILD_HINT}")
    check_dir(root)
    if args.steps < 2 or args.threads < 0:
        raise AssistantError("--steps must be at least 2 and --threads at least 0 (0 = every core)")
    threads = args.threads or probes.cores()
    cfg = replace(config.model, threads=threads, optimize_graphs=not args.no_optimize)
    if args.head_bits is not None:
        cfg = replace(cfg, lm_head_bits=args.head_bits)
    if args.q4_block is not None:
        cfg = replace(cfg, q4_block=args.q4_block)
    if args.backend:
        cfg = replace(cfg, backend=args.backend)
    if args.gguf:
        cfg = replace(cfg, gguf=str(Path(args.gguf).expanduser().resolve()))
    if args.no_repack:
        cfg = replace(cfg, llama_repack=False)
    llama = cfg.backend == "llama.cpp"
    if llama and not args.peer_only:
        raise ConfigError("bench engine", "--backend", "llama.cpp is measured side by side only: add --peer llama.cpp "
                          "--peer-model GGUF --peer-only (the other figures read ONNX graphs)")
    if llama and not cfg.gguf:
        cfg = replace(cfg, gguf=str(root / "gguf" / "model.gguf"))
    src = root / graph_file("decoder_model_merged", cfg.decoder_precision)
    if not llama and not src.is_file():
        raise AssistantError(f"{src}: missing; {BUILD_HINT}")
    if args.peer and not args.peer_model:
        raise ConfigError("bench engine", "--peer-model", f"needed by --peer {args.peer}; {peer.GGUF_HINT}")
    if (args.peer_only and not args.peer) or args.peer_rounds < 1:
        raise ConfigError("bench engine", "--peer-only", "needs --peer, and --peer-rounds at least 1")
    cache = Path(args.cache_dir).expanduser() if args.cache_dir else graph_cache_dir(config)
    _prebuild(root, cfg, cache)
    kind = f"llama.cpp on {Path(cfg.gguf).name}" if llama else cfg.decoder_precision
    report = Report(f"Engine benchmark: {root.name} ({kind}, {threads} threads)")
    report.add("model", str(root))
    report.add("threads", threads)
    report.add("backend", cfg.backend + (f" ({cfg.gguf}, repack {'on' if cfg.llama_repack else 'off'})" if llama else ""))
    report.add("engine_config", f"optimize_graphs={cfg.optimize_graphs}, lm_head_bits={cfg.lm_head_bits}, "
               f"q4_block={cfg.q4_block}, prefix_cache={cfg.prefix_cache}, spin={cfg.spin}, ple_store={cfg.ple_store}")
    if args.peer:  # first, in child processes, before this process holds a model
        gguf = Path(args.peer_model).expanduser()
        runs = peer.side_by_side(root, cfg, cache, gguf, args.steps, args.peer_rounds, say=_say, audio=args.with_audio)
        peer.add_rows(report, runs, gguf, _target, audio=args.with_audio, repack=cfg.llama_repack)
        if args.peer_only:
            return report.emit(args.json)
    _say(f"loading {root} ({threads} threads)")
    # the model is passed without keeping a reference here, so measure() can free it before the thread sweep
    decoder_path = measure(_load(root, cfg, cache), args.steps, threads, report, cache, build_ple=not args.no_ple_store)
    if args.compare and decoder_path != src:
        _compare(report, root, cfg, src, cache, args.steps)
    return report.emit(args.json)


def _compare(report: Report, root: Path, cfg: ModelConfig, src: Path, cache: Path, steps: int) -> None:
    """Published vs optimised decoder on the same prompt, steps interleaved (text-only model)."""
    _say("published vs optimised decoder, interleaved")
    model = _load(root, cfg, cache, audio=False)
    published = Decoder(model.onnx_decoder.embed_graph, open_graph("decoder_model_merged", src, cfg.threads), model.spec)
    result = probes.ab_compare(model, {"published": published, "optimised": model.onnx_decoder}, steps)
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


def measure(model: GemmaModel, steps: int, threads: int, report: Report, cache_dir: Path,
            build_ple: bool = True) -> Path:
    """Every figure, in an order that keeps the memory peak honest (bandwidth buffer last); the decoder graph run."""
    dec = model.onnx_decoder
    decoder_path = dec.graph.path
    report.add("decoder_graph", str(decoder_path))
    report.add("audio_graph", str(model.audio.path) if model.audio is not None else "none")
    _say("warm-up")
    probes.decode_steps(model, dec, 2)
    _say(f"decoding {steps} tokens")
    run = probes.decode_steps(model, dec, steps)
    step_ms = probes.median_ms(run.step_s)
    decode_tok_s = 1000 / step_ms
    weights = probes.decoder_weight_bytes(decoder_path)
    per_token = weights + run.kv_bytes
    _say("loop overhead: bare session.run, engine loop, IOBinding")
    loops = probes.loop_costs(model, steps)

    _say("time to first token through model.stream")
    ttft = _ttft(model)

    audio: dict[float, tuple[float, int, Any]] = {}
    if model.has_audio:
        for seconds in (1.0, 3.0, 10.0):
            _say(f"end of speech to first token, {seconds:g} s utterance (streamed, then batch)")
            streamed, prefilled = min(probes.streamed_eos_to_first_token(model, seconds) for _ in range(2))
            audio[seconds] = (streamed, prefilled, probes.eos_to_first_token(model, seconds))

    ple_store = store_path(dec.embed_graph.path, cache_dir, 8)
    store_resident, store_err = None, None
    if ple_store.is_file() or build_ple:
        store = ensure_ple_store(dec.embed_graph.path, dec.embed_graph.session, model.spec.text.vocab_size, cache_dir, 8,
                                 _say)
        used = sorted(set(probes.prompt(model, probes._messages(system=probes.system_prompt(model, 400))).ids))
        rows = store.lookup(used)
        _, graph_rows = dec.embed(used)
        store_err = float(abs(rows - graph_rows[0]).max() / max(float(abs(graph_rows).max()), 1e-9))
        store_resident = store.resident_bytes() / MB
    embed_data = dec.embed_graph.path.with_name(dec.embed_graph.path.name + "_data")
    embed_resident = mapping_rss_bytes(embed_data) / MB
    peak_rss = probes.peak_rss_bytes() / MB

    _say(f"decode with one core kept busy (spin {'on' if model.config.spin else 'off'}), quiet just before and after")
    before = probes.decode_steps(model, dec, steps)
    with probes.BusyCore():
        busy = probes.decode_steps(model, dec, steps)
    after = probes.decode_steps(model, dec, steps)
    busy_tok_s = 1000 / probes.median_ms(busy.step_s)
    quiet_tok_s = 1000 / min(probes.median_ms(before.step_s), probes.median_ms(after.step_s))

    _say("memory read bandwidth")
    bw = best_read_bandwidth(threads)
    ceiling = bw.gb_per_s * 1e9 / per_token

    report.add("read_bandwidth_gb_s", bw.gb_per_s, "GB/s", label=f"memory read bandwidth ({bw.threads} threads)")
    report.add("decoder_weight_mb", weights / MB, "MB", label="decoder weights read per step")
    report.add("bytes_per_token_mb", per_token / MB, "MB", label=f"bytes read per decoded token (KV at {run.context})")
    report.add("decode_tok_s", decode_tok_s, "tok/s", label=f"decode ({threads} threads)")
    report.add("decode_ceiling_tok_s", ceiling, "tok/s", label="bandwidth ceiling")
    _target(report, "decode_to_ceiling_ratio", decode_tok_s / ceiling, "", ">=", 0.85, "decode / ceiling")
    report.add("prefill_tok_s", ttft["prefill_tok_s"], "tok/s", label=f"prefill ({ttft['prefill_tokens']:.0f} tokens)")
    report.add("step_ms", step_ms, "ms", label="decode step (engine loop)")
    report.add("bare_step_ms", loops["bare"], "ms", label="decode step (bare session.run, loopcost)")
    report.add("plain_step_ms", loops["plain"], "ms", label="decode step (Decoder.forward, loopcost)")
    report.add("iobinding_step_ms", loops["iobinding"], "ms", label="decode step (IOBinding, loopcost)")
    report.add("iobinding_decode_tok_s", 1000 / loops["iobinding"], "tok/s", label="decode with IOBinding")
    _target(report, "overhead_ms_per_step", loops["in_step"], "ms", "<=", 1.0,
            "engine overhead per step (step - its session.run)")
    report.add("overhead_ab_ms_per_step", loops["plain"] - loops["bare"], "ms",
               label="engine loop - bare session.run loop (separate runs)")
    report.add("iobinding_overhead_ms_per_step", loops["iobinding"] - loops["bare"], "ms",
               label="IOBinding overhead per step (- bare)")
    _ttft_rows(report, ttft)
    _target(report, "peak_rss_mb", peak_rss, "MB", "<=", 1500, "peak RSS")
    _target(report, "ple_resident_mb", store_resident if store_resident is not None else embed_resident, "MB", "<=", 100,
            "per-layer embeddings resident" + (" (store)" if store_resident is not None else " (embed graph)"))
    report.add("embed_graph_resident_mb", embed_resident, "MB", label="embed_tokens tables resident")
    report.add("ple_store_max_rel_err", store_err, "", label=f"{ple_store.name} vs graph, max |err| / max |x|")
    _audio_rows(report, audio)
    counts = probes.free_tokens(model)
    report.add("free_tokens_per_command", counts, "", label="freely decoded tokens under the grammar, ten commands")
    report.add("unconstrained_tokens_per_command", probes.unconstrained_tokens(model), "",
               label="tokens of the same calls decoded without the grammar")
    _target(report, "max_free_tokens_per_command", float(max(counts)), "tokens", "<=", 8, "most free tokens per command")
    report.add("busy_core_decode_tok_s", busy_tok_s, "tok/s", label="decode with one core kept busy")
    report.add("busy_core_quiet_tok_s", quiet_tok_s, "tok/s", label="quiet decode just before and after (the faster)")
    report.add("busy_core_decode_ratio", busy_tok_s / quiet_tok_s, "",
               label=f"decode with a busy core / quiet {threads}-thread decode")
    root, cfg = model.model_dir, model.config
    del dec, model
    gc.collect()
    sweep = _thread_sweep(report, root, cfg, cache_dir, steps)
    # re-based (issue 14): with one of two cores taken, a compute-bound decode has one core left
    _target(report, "busy_core_vs_1_thread_ratio", busy_tok_s / sweep[1], "", ">=", 0.9,
            "decode with a busy core / quiet 1-thread decode")
    if 2 in sweep:
        report.add("busy_core_vs_2_threads_ratio", busy_tok_s / sweep[2], "",
                   label="decode with a busy core / quiet 2-thread decode")
    return decoder_path


def _ttft(model: GemmaModel) -> dict[str, float]:
    """TTFT through ``model.stream``: no system prompt, a 400-token one on its first turn (prefix cache cold),
    later turns (warm), and without the prefix cache."""
    system = probes.system_prompt(model, 400)
    other = probes._messages("what is the weather like", system)
    saved, model.prefix_cache = model.prefix_cache, None
    uncached, long_t = min(probes.ttft_stream_s(model, other) for _ in range(2))
    model.prefix_cache = saved
    if saved is not None:
        saved.clear()
    first, first_t = probes.ttft_stream_s(model, other)
    nones, warms = [], []
    for _ in range(3):  # interleaved, so both see the same load on a shared machine
        nones.append(probes.ttft_stream_s(model, probes._messages())[0])
        warms.append(probes.ttft_stream_s(model, probes._messages(system=system)))
    none = min(nones)
    warm, warm_t = min(warms)
    return {"none": none, "uncached": uncached, "first": first, "first_prefix_s": first_t.prefix_s,
            "warm": warm, "cached_tokens": warm_t.cached_tokens, "warm_prefilled": warm_t.prompt_tokens,
            "system_tokens": len(model.tokenizer(system, add_special_tokens=False)["input_ids"]),
            "prefill_tok_s": long_t.prefill_tokens_per_s, "prefill_tokens": long_t.prompt_tokens}


def _ttft_rows(report: Report, t: dict[str, float]) -> None:
    n = int(t["system_tokens"])
    report.add("ttft_none_s", t["none"], "s", label="TTFT, no system prompt")
    report.add("ttft_400_s", t["uncached"], "s", label=f"TTFT, {n}-token system prompt, no prefix cache")
    report.add("ttft_400_first_turn_s", t["first"], "s",
               label=f"TTFT, first turn (system turn prefilled into the cache: {t['first_prefix_s']:.2f} s)")
    report.add("ttft_400_cached_s", t["warm"], "s",
               label=f"TTFT, later turns ({t['cached_tokens']:.0f} tokens from the prefix cache, "
                     f"{t['warm_prefilled']:.0f} prefilled)")
    report.add("ttft_400_cached_tokens", int(t["cached_tokens"]), "tokens", label="prompt tokens restored from the cache")
    report.add("ttft_prefix_ratio_uncached", t["uncached"] / t["none"], "x", label="TTFT ratio without prefix cache")
    report.add("ttft_prefix_ratio_first_turn", t["first"] / t["none"], "x", label="TTFT ratio, first turn")
    _target(report, "ttft_prefix_ratio", t["warm"] / t["none"], "x", "<=", 1.1,
            "TTFT ratio, 400-token prompt / none (warm turn)")


def _audio_rows(report: Report, audio: dict[float, tuple[float, int, Any]]) -> None:
    """Streamed end of speech to first token (the engine's path) per utterance length, and the batch figure."""
    keys = [f"eos_to_first_token_{s:g}s_s" for s in (1.0, 3.0, 10.0)]
    if not audio:
        for key in ("audio_encoder_s_per_audio_s", *keys, "batch_eos_to_first_token_10s_s"):
            report.add(key, None, "s", label=key.replace("_", " ") + " (model has no audio encoder)")
        _target(report, "eos_to_first_token_ratio_10s_1s", None, "x", "<=", 1.2)
        return
    report.add("audio_encoder_s_per_audio_s", audio[10.0][2].encoder_s / 10.0, "s/s",
               label="audio encoder per second of audio")
    for seconds, (streamed, rows, batch) in audio.items():
        report.add(f"eos_to_first_token_{seconds:g}s_s", streamed, "s",
                   label=f"end of speech to first token, {seconds:g} s, streamed ({rows} of {batch.audio_tokens} "
                         "audio rows prefilled while speaking)")
        report.add(f"batch_eos_to_first_token_{seconds:g}s_s", probes.eos_total_s(batch), "s",
                   label=f"end of speech to first token, {seconds:g} s, whole clip at the end (batch)")
    _target(report, "eos_to_first_token_ratio_10s_1s", audio[10.0][0] / audio[1.0][0], "x", "<=", 1.2,
            "end of speech to first token, 10 s / 1 s (streamed)")
    report.add("batch_eos_to_first_token_ratio_10s_1s",
               probes.eos_total_s(audio[10.0][2]) / probes.eos_total_s(audio[1.0][2]), "x",
               label="end of speech to first token, 10 s / 1 s (batch)")


def _thread_sweep(report: Report, root: Path, cfg: ModelConfig, cache: Path, steps: int) -> dict[int, float]:
    """Decode at 1, 2 and all cores, each with a fresh text-only model (the big one is released first)."""
    sweep = sorted({1, 2, probes.cores()})
    speeds: dict[int, float] = {}
    for t in sweep:
        _say(f"decode with {t} thread(s)")
        model = _load(root, replace(cfg, threads=t), cache, audio=False)
        probes.decode_steps(model, model.decoder, 2)  # warm-up
        run = probes.decode_steps(model, model.decoder, steps)
        speeds[t] = 1000 / probes.median_ms(run.step_s)
        report.add(f"decode_tok_s_{t}_threads", speeds[t], "tok/s", label=f"decode, {t} thread(s)")
        del model, run
        gc.collect()
    return speeds
