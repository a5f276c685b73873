"""``assistant bench NAME``: measured speed and memory, as a table or one JSON object."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from assistant import benchmarks


def register(subparsers: Any) -> None:
    modules = [
        importlib.import_module(f"{benchmarks.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name)
    ]
    modules = [m for m in modules if hasattr(m, "register")]
    if not modules:
        return  # no benchmark yet: no placeholder command
    parser = subparsers.add_parser("bench", help="measure speed and memory")
    sub = parser.add_subparsers(dest="bench_command", metavar="NAME", required=True)
    for module in modules:
        module.register(sub)
