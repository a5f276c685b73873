"""Rewrite pre-reorganisation ``assistant.engine.X`` module paths to their sub-package (a merge aid).

The engine's modules moved into ``graphs/``, ``decoding/``, ``grammar/`` and ``audio/``. A branch written
against the flat layout still says ``from assistant.engine.timings import now``; after merging it, run
``python scripts/engine_import_paths.py $(git ls-files '*.py' '*.md')`` to fix such lines in place
(dotted paths, ``assistant/engine/X.py`` paths and ``from assistant.engine import X``), then
``pytest tests/test_import_layers.py``. It prints each file it changed. Safe to run twice.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PACKAGES = {
    "graphs": "model_dir onnxfile manifest spec contract sessions optimize optimized cacheentry residency ple_store "
              "ple_setup hub",
    "decoding": "decode sampling detok events timings prefixcache prompt toolcalls loopcost",
    "audio": "features audiosplit audiostream audioturn liveturn",
    "grammar": "grammar tokengrammar constraint scoring jumpforward",
}
MOVED = {module: package for package, modules in PACKAGES.items() for module in modules.split()}
_ALT = "|".join(sorted(MOVED, key=len, reverse=True))
# a path already moved (assistant.engine.grammar.grammar, ...) is left alone
DOTTED = re.compile(r"assistant\.engine\.(" + _ALT + r")\b(?!\.(?:" + _ALT + r")\b)")
SLASHED = re.compile(r"assistant/engine/(" + _ALT + r")\.py")
FROM = re.compile(r"from assistant\.engine import (" + _ALT + r")\b")


def rewrite(text: str) -> str:
    text = DOTTED.sub(lambda m: f"assistant.engine.{MOVED[m[1]]}.{m[1]}", text)
    text = SLASHED.sub(lambda m: f"assistant/engine/{MOVED[m[1]]}/{m[1]}.py", text)
    return FROM.sub(lambda m: f"from assistant.engine.{MOVED[m[1]]} import {m[1]}", text)


def main(paths: list[str]) -> int:
    for name in paths:
        path = Path(name)
        text = path.read_text()
        new = rewrite(text)
        if new != text:
            path.write_text(new)
            print("rewrote", name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
