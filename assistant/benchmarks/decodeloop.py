"""``assistant bench decode-loop``: the decode loop's own overhead, and threads/spinning under a busy core.

For each thread count (and spinning on/off) the model is loaded, a prompt prefilled, and the same
greedy steps run three ways (see :mod:`assistant.engine.decoding.loopcost`); ``--busy`` repeats the plain
loop while a competing process keeps one core busy, to show how much of quiet decode survives.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

from assistant.benchmarks.report import Report, median
from assistant.errors import AssistantError

PROMPT_TOKENS = 64
ROUNDS = 3


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("decode-loop", help="decode loop overhead; threads and spinning, quiet and busy")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: model.dir from the config)")
    parser.add_argument("--precision", default="q4", help="precision of the decoder and embed graphs (default q4)")
    parser.add_argument("--threads", default="1,2,0", help="comma-separated intra-op thread counts (0 = all cores)")
    parser.add_argument("--steps", type=int, default=16, help="decode steps per measurement (default 16)")
    parser.add_argument("--busy", action="store_true", help="also measure with one core kept busy by another process")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _spin_forever() -> None:  # pragma: no cover - runs in the competing process
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def _measure(root: Path, graphs: Path, precision: str, threads: int, spin: bool, steps: int, busy: bool) -> dict[str, float]:
    from assistant.config.schema import ModelConfig
    from assistant.engine.decoding.loopcost import LOOPS, run_plain
    from assistant.engine.model import GemmaModel

    cfg = ModelConfig(decoder_precision=precision, embed_precision=precision, threads=threads, spin=spin,
                      prefix_cache=False)
    model = GemmaModel.load(root, cfg, audio=False, graph_cache=graphs)
    decoder = model.onnx_decoder
    ids = [decoder.spec.text.pad_token_id + 10 + i % 200 for i in range(PROMPT_TOKENS)]
    _, cache = decoder.forward(*decoder.embed(ids), decoder.empty_cache())
    for loop in LOOPS.values():  # warm up every way first: the first loop measured runs slower
        loop(decoder, cache, ids[-1], steps)
    out: dict[str, float] = {}
    for _ in range(ROUNDS):  # interleaved rounds, best median of each
        for name, loop in LOOPS.items():
            ms = 1000 * median(loop(decoder, cache, ids[-1], steps).step_s)
            out[name] = min(out.get(name, ms), ms)
    if busy:
        proc = multiprocessing.get_context("spawn").Process(target=_spin_forever, daemon=True)
        proc.start()
        try:
            out["plain_busy"] = 1000 * median(run_plain(decoder, cache, ids[-1], steps).step_s)
        finally:
            proc.terminate()
            proc.join()
    return out


def run(args: argparse.Namespace) -> int:
    from assistant.config import graph_cache_dir, load_config, model_dir

    try:
        counts = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        raise AssistantError(f"--threads must be comma-separated integers, not {args.threads!r}") from None
    if args.steps < 2:
        raise AssistantError("--steps must be at least 2")
    config = load_config(getattr(args, "config", None))
    root = Path(args.model).expanduser() if args.model else model_dir(config)
    report = Report(f"decode loop ({root.name}, {args.precision}, {os.cpu_count()} cores)")
    for threads in counts:
        for spin in (False, True):
            tag = f"t{threads or 'all'}_{'spin' if spin else 'nospin'}"
            progress(f"measuring {tag} ({args.steps} steps after a {PROMPT_TOKENS}-token prompt)")
            ms = _measure(root, graph_cache_dir(config), args.precision, threads, spin, args.steps, args.busy)
            report.add(f"{tag}_bare_ms_per_step", round(ms["bare"], 3), "ms", label=f"{tag}: bare session.run")
            report.add(f"{tag}_plain_ms_per_step", round(ms["plain"], 3), "ms", label=f"{tag}: Decoder.forward")
            report.add(f"{tag}_iobinding_ms_per_step", round(ms["iobinding"], 3), "ms", label=f"{tag}: IOBinding")
            report.add(f"{tag}_overhead_ms_per_step", round(ms["plain"] - ms["bare"], 3), "ms",
                       label=f"{tag}: overhead_ms_per_step (plain - bare)")
            if "plain_busy" in ms:
                report.add(f"{tag}_busy_fraction_of_quiet", round(ms["plain"] / ms["plain_busy"], 3), "",
                           label=f"{tag}: decode speed with one core busy / quiet", target=">= 0.9",
                           ok=ms["plain"] / ms["plain_busy"] >= 0.9)
    return report.emit(args.json)
