"""The import layers of docs/ARCHITECTURE.md, read from the source (every import, lazy and type-only ones too).

Inside ``assistant.engine``: no import cycle, and the sub-packages stack as
``graphs`` < ``decoding`` < ``grammar`` < ``generation`` < ``audio`` < the top-level modules (``model``,
``loading``, ``verify``, ``doctor``, ``constrained``): a module imports only its own layer and those below.
Between packages: the stage packages (audio, engine, home, clock, tiers, hardware, language) do not import
each other, except the language package's lazy use of the audio package's TTS.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import assistant

ROOT = Path(assistant.__file__).parent
ENGINE_LAYERS = {"graphs": 0, "decoding": 1, "grammar": 2, "generation": 3, "audio": 4}
TOP = 5
STAGES = {"audio", "engine", "home", "clock", "tiers", "hardware", "language"}
ALLOWED_BETWEEN_STAGES = {("language", "audio")}  # the reply voice's TTS, imported lazily
SHARED_LEAVES = {"assistant.language.phrases"}  # the fixed-phrase table: stdlib only, any stage may use it


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imported(name: str) -> Iterator[str]:
    """Every ``assistant`` module that module ``name`` imports, anywhere in the file."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # "from pkg import mod" imports the module pkg.mod; "from mod import name" imports mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        yield from (t for t in targets if t in MODULES and t != name)


def engine_graph() -> dict[str, set[str]]:
    engine = {m for m in MODULES if m.startswith("assistant.engine.")}
    return {m: {t for t in imported(m) if t in engine} for m in engine}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer(module: str) -> int:
    part = module.split(".")[2]
    return ENGINE_LAYERS.get(part, TOP)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_inside_the_engine() -> None:
    graph = engine_graph()
    assert "assistant.engine.model" in graph and "assistant.engine.audio.audioturn" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_engine_sub_packages_import_only_their_layer_and_below() -> None:
    wrong = sorted(f"{m} -> {t}" for m, targets in engine_graph().items() for t in targets if layer(t) > layer(m))
    assert wrong == []


def test_nothing_below_the_top_imports_the_model() -> None:
    importers = {m for m, targets in engine_graph().items() if "assistant.engine.model" in targets}
    assert importers and all(layer(m) == TOP for m in importers)


def test_shared_leaves_import_only_the_standard_library() -> None:
    for name in SHARED_LEAVES:
        assert not [t for t in imported(name) if t.startswith("assistant")], name


def test_stage_packages_do_not_import_each_other() -> None:
    wrong = []
    for name in MODULES:
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in STAGES:
            continue
        for target in imported(name):
            other = target.split(".")[1] if "." in target else ""
            if target in SHARED_LEAVES:
                continue
            if other in STAGES and other != parts[1] and (parts[1], other) not in ALLOWED_BETWEEN_STAGES:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(assistant.__path__, "assistant.") if not m.name.endswith("__main__")]
    assert len(names) > 100
    for name in names:
        importlib.import_module(name)
