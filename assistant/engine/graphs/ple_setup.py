"""The per-layer embedding store of a model, found next to it or made once at first load.

``ensure_ple_store(embed_graph, session, vocab, cache_dir)`` returns an open ``PleStore``:
``<model_dir>/ple_store_int{bits}.bin`` when the model ships one (the shape-faithful build writes it),
else ``<cache_dir>/<embed graph stem>.<key>.int{bits}.ple`` built from the ``embed_tokens`` session
over every token id (minutes for 262144 ids; progress shown). The key covers the graph and its data
files' sizes and mtimes, so a changed model gets a new store; the build writes to a temporary file and
renames it (see ``build_store``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from assistant.engine.graphs.ple_store import PleStore, build_store, session_lookup

log = logging.getLogger("assistant.engine")


def store_path(embed_graph: Path, cache_dir: Path, bits: int = 8) -> Path:
    """Where the store for ``embed_graph`` lives: beside the model if shipped, else in the cache."""
    shipped = embed_graph.parent.parent / f"ple_store_int{bits}.bin"
    if shipped.is_file():
        return shipped
    parts = [str(embed_graph.resolve())]
    for path in [embed_graph, *sorted(embed_graph.parent.glob(embed_graph.name + "_data*"))]:
        st = path.stat()
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
    return cache_dir / f"{embed_graph.stem}.{key}.int{bits}.ple"


def ensure_ple_store(embed_graph: Path, session: object, vocab: int, cache_dir: Path, bits: int = 8,
                     progress: Callable[[str], None] | None = None) -> PleStore:
    """The open store for ``embed_graph``, building it from ``session`` first if there is none."""
    path = store_path(embed_graph, cache_dir, bits)
    if not path.is_file():
        say = progress or log.info
        say(f"building the per-layer embedding store for {embed_graph.name} ({vocab} tokens, once)")
        last = [time.monotonic()]

        def tick(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= 5 or done == total:
                last[0] = time.monotonic()
                say(f"  per-layer embedding store: {done}/{total} tokens")

        build_store(session_lookup(session), vocab, path, bits=bits, source=embed_graph.name, progress=tick)
    return PleStore(path)
