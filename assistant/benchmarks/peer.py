"""``assistant bench engine --peer llama.cpp``: the engine and llama.cpp side by side, in the same run.

Each measurement runs in a child process of its own (spawned fresh, so each peak RSS is that side's
alone): engine, peer, engine, peer (``rounds`` pairs), at the same thread count, on the same prompt
token ids (the engine's rendering of a ~``prefill_tokens``-token system prompt and a command). Each
child warms up, prefills the prompt (timed), then decodes ``steps`` greedy tokens one at a time (the
median step is the decode speed). The better round of each side is kept, so both get the same
treatment under a shared machine's load; the ratios are engine / peer.

The peer is llama.cpp through ``llama-cpp-python``, which must be built for this CPU
(``GGML_NATIVE=ON``, see ``scripts/setup``): :func:`check_native` compares the CPU features the
loaded library was compiled with (``llama_print_system_info``) against ``/proc/cpuinfo`` and refuses a
generic build, which would not be a fair peer.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import platform
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from assistant.benchmarks import engine_probes as probes
from assistant.config.schema import ModelConfig
from assistant.engine.decoding.llamanative import (  # noqa: F401 (the peer's checks, as peer.*)
    CRASHING,
    FEATURES,
    check_native,
    cpu_flags,
    crashing_features,
    missing_features,
    quiet,
)
from assistant.engine.decoding.timings import now
from assistant.engine.model import GemmaModel
from assistant.errors import AssistantError

PEERS = ("llama.cpp",)
GGUF_HINT = "write one with 'python models/gguf_e2b.py MODEL_DIR OUT.gguf' and pass --peer-model OUT.gguf"

def prompt_ids(model: Any, prefill_tokens: int) -> list[int]:
    pre = probes.prompt(model, probes._messages(system=probes.system_prompt(model, prefill_tokens)))
    return [int(i) for i in pre.ids]


def engine_child(root: str, cfg: ModelConfig, cache: str, steps: int, prefill_tokens: int,
                 audio: bool = False) -> dict[str, Any]:
    """In a fresh process: load the engine (text only unless ``audio``), prefill, decode; speeds and peak RSS."""
    model = GemmaModel.load(Path(root), cfg, audio=audio, graph_cache=Path(cache), progress=None)
    dec = model.decoder
    probes.decode_steps(model, dec, 2)  # warm-up
    pre = probes.prompt(model, probes._messages(system=probes.system_prompt(model, prefill_tokens)))
    best = float("inf")
    for _ in range(2):
        start = now()
        dec.forward(pre.embeds, pre.ple, dec.empty_cache())
        best = min(best, now() - start)
    run = probes.decode_steps(model, dec, steps)
    return {"prefill_tok_s": len(pre.ids) / best, "decode_tok_s": 1000 / probes.median_ms(run.step_s),
            "prompt_tokens": len(pre.ids), "ids": [int(i) for i in pre.ids],
            "peak_rss_mb": probes.peak_rss_bytes() / 1e6}


def peer_child(gguf: str, ids: list[int], threads: int, steps: int, repack: bool = True) -> dict[str, Any]:
    """In a fresh process: llama.cpp on the same token ids, prefill then greedy decode, one token per decode.

    Its own C API on one sequence (``llama_batch_get_one``, batches of 512), nothing of the engine's;
    ``repack``: llama.cpp's CPU weight repacking at load (its default).
    """
    import llama_cpp as lib

    quiet(lib)
    params = lib.llama_model_default_params()
    params.use_extra_bufts = repack
    model = lib.llama_model_load_from_file(gguf.encode(), params)
    if not model:
        raise AssistantError(f"{gguf}: llama.cpp could not load it")
    cparams = lib.llama_context_default_params()
    cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = len(ids) + steps + 16, 512, 512
    cparams.n_threads, cparams.n_threads_batch = threads, threads
    ctx = lib.llama_init_from_model(model, cparams)
    vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
    mem = lib.llama_get_memory(ctx)

    def decode(tokens: list[int]) -> np.ndarray:
        for start in range(0, len(tokens), 512):
            chunk = tokens[start : start + 512]
            arr = (lib.llama_token * len(chunk))(*chunk)  # referenced here while llama.cpp reads it
            if lib.llama_decode(ctx, lib.llama_batch_get_one(arr, len(chunk))):
                raise AssistantError(f"{gguf}: llama_decode failed")
        return np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx, -1), shape=(vocab,)).copy()

    try:
        decode(ids[:8])  # warm-up
        best = float("inf")
        for _ in range(2):
            lib.llama_memory_clear(mem, True)
            start = now()
            logits = decode(ids)
            best = min(best, now() - start)
        step_s = []
        for _ in range(steps):
            token = int(np.argmax(logits))
            start = now()
            logits = decode([token])
            step_s.append(now() - start)
    finally:
        lib.llama_free(ctx)
        lib.llama_model_free(model)
    return {"prefill_tok_s": len(ids) / best, "decode_tok_s": 1 / statistics.median(step_s),
            "prompt_tokens": len(ids), "peak_rss_mb": probes.peak_rss_bytes() / 1e6}


def _in_child(fn: Any, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        result: dict[str, Any] = pool.submit(fn, *args).result()
        return result


def side_by_side(root: Path, cfg: ModelConfig, cache: Path, gguf: Path, steps: int, rounds: int = 2,
                 prefill_tokens: int = 400, say: Any = print, audio: bool = False) -> dict[str, list[dict[str, Any]]]:
    """``rounds`` pairs of (engine, peer) children, alternating; every round's figures per side."""
    if not gguf.is_file():
        raise AssistantError(f"{gguf}: no GGUF here; {GGUF_HINT}")
    check_native()
    runs: dict[str, list[dict[str, Any]]] = {"engine": [], "peer": []}
    for n in range(rounds):
        say(f"side by side, round {n + 1}/{rounds}: engine ({cfg.threads} threads, own process)")
        runs["engine"].append(_in_child(engine_child, str(root), cfg, str(cache), steps, prefill_tokens, audio))
        say(f"side by side, round {n + 1}/{rounds}: llama.cpp on {gguf.name} ({cfg.threads} threads, own process)")
        ids = runs["engine"][-1].pop("ids")
        runs["peer"].append(_in_child(peer_child, str(gguf), ids, cfg.threads, steps, cfg.llama_repack))
    return runs


def add_rows(report: Any, runs: dict[str, list[dict[str, Any]]], gguf: Path, target: Any, audio: bool = False,
             repack: bool = True) -> None:
    """Both sides' best figures, their ratios (engine / peer) with targets, and the method."""
    best = {side: {"prefill_tok_s": max(r["prefill_tok_s"] for r in rs), "decode_tok_s": max(r["decode_tok_s"] for r in rs),
                   "peak_rss_mb": max(r["peak_rss_mb"] for r in rs)} for side, rs in runs.items()}
    tokens = runs["engine"][0]["prompt_tokens"]
    report.add("peer", "llama.cpp")
    report.add("peer_model", str(gguf))
    report.add("peer_build", check_native().replace("\n", " "), label=f"peer build ({platform.machine()})")
    report.add("peer_repack", repack, label="llama.cpp weight repacking at load (peer)")
    report.add("peer_rounds", len(runs["engine"]), label="engine, peer alternations (each in its own process)")
    for side, name in (("engine", "engine"), ("peer", "llama.cpp")):
        report.add(f"{side}_side_prefill_tok_s", best[side]["prefill_tok_s"], "tok/s",
                   label=f"side by side: {name} prefill ({tokens} tokens)")
        report.add(f"{side}_side_decode_tok_s", best[side]["decode_tok_s"], "tok/s",
                   label=f"side by side: {name} decode")
        what = "with the audio encoder" if audio and side == "engine" else "text only"
        report.add(f"{side}_side_peak_rss_mb", best[side]["peak_rss_mb"], "MB",
                   label=f"side by side: {name} peak RSS ({what}, own process)")
    target(report, "decode_vs_peer", best["engine"]["decode_tok_s"] / best["peer"]["decode_tok_s"], "x", ">=", 1.0,
           "decode, engine / llama.cpp (same run)")
    target(report, "prefill_vs_peer", best["engine"]["prefill_tok_s"] / best["peer"]["prefill_tok_s"], "x", ">=", 1.0,
           "prefill, engine / llama.cpp (same run)")
    report.add("peak_rss_vs_peer", best["engine"]["peak_rss_mb"] / best["peer"]["peak_rss_mb"], "x",
               label="peak RSS, engine / llama.cpp (lower is better)")
