"""Resident memory by mapping (``/proc/self/smaps``): anonymous, heap, and each mapped file.

``python -m assistant.benchmarks.rss_breakdown MODEL_DIR [--cache-dir DIR] [--head-bits 8]`` loads the
model as ``assistant bench engine`` does, decodes a few tokens after a ~450-token prefill, and prints
the breakdown after each stage with the process's peak RSS (``ru_maxrss``). Linux only.
"""

from __future__ import annotations

import argparse
import resource
from collections import Counter
from pathlib import Path

MB = 1024 * 1024


def smaps_rss() -> Counter[str]:
    """Bytes resident per mapping name (a file path, ``[heap]``, ``[anon]`` for unnamed mappings)."""
    out: Counter[str] = Counter()
    name = "[anon]"
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split(maxsplit=5)
            if not head:
                continue
            if not head[0].endswith(":"):  # a mapping header: "start-end perms offset dev inode [name]"
                name = head[5].strip() if len(head) > 5 else "[anon]"
            elif head[0] == "Rss:":
                out[name] += int(head[1]) * 1024
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def describe(stage: str, min_mb: float = 4.0) -> str:
    rss = smaps_rss()
    lines = [f"{stage}: rss {sum(rss.values()) / MB:.0f} MB, peak {peak_rss_mb():.0f} MB"]
    lines += [f"  {v / MB:8.0f} MB  {k}" for k, v in rss.most_common() if v >= min_mb * MB]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from assistant.benchmarks import engine_probes as probes
    from assistant.config.schema import ModelConfig
    from assistant.engine.decoding.decode import decode_tokens
    from assistant.engine.decoding.timings import Timings
    from assistant.engine.model import GemmaModel

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--head-bits", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--keep-pages", action="store_true", help="model.release_weight_pages = false")
    args = parser.parse_args(argv)
    print(describe("start"))
    cfg = ModelConfig(lm_head_bits=args.head_bits, release_weight_pages=not args.keep_pages)
    model = GemmaModel.load(args.model, cfg, graph_cache=args.cache_dir)
    print(describe("loaded"))
    run = probes.decode_steps(model, model.decoder, args.steps)
    print(describe(f"short prompt + {args.steps} decode steps ({probes.median_ms(run.step_s):.0f} ms/step)"))
    long = probes.prompt(model, probes._messages(system=probes.system_prompt(model, 400)))
    for _ in decode_tokens(model.decoder, long, probes.greedy, (), 1, Timings()):
        pass
    print(describe(f"after a {len(long.ids)}-token prompt"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
