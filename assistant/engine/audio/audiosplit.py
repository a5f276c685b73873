"""Split the published ``audio_encoder`` graph into stages, so it can be run incrementally.

The TorchScript export names every node after the module it came from: ``/subsample_conv_projection/...``
(the front end), ``/layers.N/...`` (one conformer layer each), ``/output_proj/...``, ``/embed_audio/...``
(pointwise), and top-level nodes (constants, the attention mask built from the input mask). Stages:

- ``front``: ``input_features, input_features_mask -> h0`` (the front end's output rows);
- ``mask``: ``h0, input_features_mask -> shared`` (the tensors every layer reads besides its input:
  the blocked attention mask; only the shapes of its inputs matter once the mask is all valid);
- ``layer{i}``: ``h_i, *shared_i -> h_{i+1}``;
- ``tail``: ``h_L -> rows`` (output projection and ``embed_audio``, before the valid rows are gathered).

The boundaries are found from the graph itself (a tensor made by one group and read by the next only);
a graph whose layout is not recognised gives None (the caller keeps whole-clip encoding). Stage files are
written once into a cache directory next to links to the source's weight files (no weights are copied).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.engine.graphs.cacheentry import building

log = logging.getLogger("assistant.engine")

SPLIT_VERSION = 2
_GROUP = re.compile(r"^/(layers\.\d+|subsample_conv_projection|output_proj|embed_audio)/")
_BOOL_OPS = frozenset({"Not", "And", "Or", "Xor", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
                       "IsNaN", "IsInf"})
_INT64_OPS = frozenset({"Shape", "Size", "NonZero", "ArgMax", "ArgMin"})
SOURCE = "source.txt"  # in each cache entry: the graph it was split from
_DATA_INPUT = {"Where": 1}  # ops whose output type is not their first input's


class SplitError(Exception):
    """The graph's layout is not one this module knows how to split."""


@dataclass(frozen=True)
class Stage:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class StagePlan:
    """The stages of one encoder graph, in running order, with the tensor names that link them."""

    front: Stage
    mask: Stage
    layers: tuple[Stage, ...]
    tail: Stage

    def all(self) -> list[Stage]:
        return [self.front, self.mask, *self.layers, self.tail]


def _group(name: str) -> str | None:
    m = _GROUP.match(name)
    return m.group(1) if m else None


class _Graph:
    """Producer/consumer indexes over an ONNX graph proto."""

    def __init__(self, model: Any) -> None:
        g = model.graph
        self.g = g
        self.inits = {t.name: t for t in g.initializer}
        self.inputs = {i.name: i for i in g.input}
        self.producer = {o: n for n in g.node for o in n.output if o}
        self.consumers: dict[str, set[str | None]] = defaultdict(set)
        for n in g.node:
            for i in n.input:
                self.consumers[i].add(_group(n.name))
        self.dynamic = self._dynamic()

    def _dynamic(self) -> set[str]:
        """Tensors that depend on a graph input (the rest are constants any stage may recompute)."""
        dyn = set(self.inputs)
        for n in self.g.node:  # graph nodes are topologically sorted
            if any(i in dyn for i in n.input):
                dyn.update(o for o in n.output if o)
        return dyn

    def elem_type(self, name: str, depth: int = 0) -> int:
        """The ONNX element type of tensor ``name``, propagated from its producers."""
        if name in self.inputs:
            return int(self.inputs[name].type.tensor_type.elem_type)
        if name in self.inits:
            return int(self.inits[name].data_type)
        node = self.producer.get(name)
        if node is None or depth > 200:
            raise SplitError(f"cannot tell the type of {name}")
        if node.op_type in _BOOL_OPS:
            return 9  # BOOL
        if node.op_type in _INT64_OPS:
            return 7  # INT64
        if node.op_type == "Cast":
            return int(next(a.i for a in node.attribute if a.name == "to"))
        if node.op_type == "Constant":
            return int(next(a.t.data_type for a in node.attribute if a.name == "value"))
        return self.elem_type(node.input[_DATA_INPUT.get(node.op_type, 0)], depth + 1)

    def extract(self, inputs: Iterable[str], outputs: Iterable[str]) -> list[Any]:
        """The nodes computing ``outputs`` from ``inputs`` (and constants); SplitError if a graph input is needed."""
        stop = set(inputs)
        keep: set[int] = set()
        stack = list(outputs)
        seen: set[str] = set()
        while stack:
            t = stack.pop()
            if not t or t in seen or t in stop or t in self.inits:
                continue
            seen.add(t)
            if t in self.inputs:
                raise SplitError(f"{t} is needed beyond the stage inputs {sorted(stop)}")
            node = self.producer.get(t)
            if node is None:
                raise SplitError(f"no node makes {t}")
            if id(node) not in keep:
                keep.add(id(node))
                stack.extend(node.input)
        return [n for n in self.g.node if id(n) in keep]


def _boundary(graph: _Graph, prev: str, cur: str) -> str:
    """The one tensor ``prev``'s nodes make that ``cur`` reads and no other group does (not even ``prev``)."""
    found = [t for t, n in graph.producer.items()
             if _group(n.name) == prev and cur in graph.consumers[t] and graph.consumers[t] <= {cur, None}]
    if len(found) != 1:
        raise SplitError(f"{len(found)} tensors link {prev} to {cur}")
    return found[0]


def plan(model: Any) -> StagePlan:
    """The stage plan of an ``audio_encoder`` proto (weights need not be loaded); SplitError if unrecognised."""
    graph = _Graph(model)
    names = {i for i in graph.inputs if i not in graph.inits}
    if names != {"input_features", "input_features_mask"} or [o.name for o in graph.g.output] != ["audio_features"]:
        raise SplitError(f"unexpected inputs/outputs {sorted(names)}")
    groups = {_group(n.name) for n in graph.g.node} - {None}
    layers = sorted((g for g in groups if g and g.startswith("layers.")), key=lambda g: int(g[7:]))
    if not layers or layers != [f"layers.{i}" for i in range(len(layers))] or "subsample_conv_projection" not in groups:
        raise SplitError("no /subsample_conv_projection/ and /layers.N/ node groups")
    last = "embed_audio" if "embed_audio" in groups else "output_proj"
    chain = ["subsample_conv_projection", *layers, "output_proj"]
    hidden = [_boundary(graph, a, b) for a, b in itertools.pairwise(chain)]
    outs = [t for t, n in graph.producer.items() if _group(n.name) == last and graph.consumers[t] - {last, "output_proj"}]
    if len(outs) != 1:
        raise SplitError(f"{len(outs)} tensors leave {last}")
    shared_of: list[tuple[str, ...]] = []
    for i, group in enumerate(layers):
        reads = {t for n in graph.g.node if _group(n.name) == group for t in n.input}
        shared_of.append(tuple(sorted(t for t in reads if t in graph.dynamic and t != hidden[i]
                                      and _group(graph.producer[t].name) != group)))
    shared = tuple(sorted({t for s in shared_of for t in s}))
    stages = [Stage("front", ("input_features", "input_features_mask"), (hidden[0],)),
              Stage("mask", (hidden[0], "input_features_mask"), shared),
              *(Stage(f"layer{i}", (hidden[i], *shared_of[i]), (hidden[i + 1],)) for i in range(len(layers))),
              Stage("tail", (hidden[-1],), (outs[0],))]
    for s in stages:
        graph.extract(s.inputs, s.outputs)  # raises when a stage would need more than its inputs
    return StagePlan(stages[0], stages[1], tuple(stages[2:-1]), stages[-1])


def _stage_model(model: Any, graph: _Graph, stage: Stage) -> Any:
    from onnx import helper

    nodes = graph.extract(stage.inputs, stage.outputs)
    used = {i for n in nodes for i in n.input}
    g = helper.make_graph(
        nodes, stage.name,
        [helper.make_tensor_value_info(t, graph.elem_type(t), None) for t in stage.inputs],
        [helper.make_tensor_value_info(t, graph.elem_type(t), None) for t in stage.outputs],
        [t for t in graph.g.initializer if t.name in used],
    )
    out = helper.make_model(g, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    out.functions.extend(model.functions)
    return out


def _data_files(model: Any) -> set[str]:
    files = set()
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                files.add(e.value)
    return files


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        os.symlink(src.resolve(), dst)


def _key(src: Path) -> str:
    parts: list[Any] = [SPLIT_VERSION, str(src.resolve())]
    for path in [src, *sorted(src.parent.glob(src.name + "*data*"))]:
        st = path.stat()
        parts.append([path.name, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _remove_stale(cache: Path, src: Path, keep: Path) -> None:
    """Drop other split entries of ``src``, or of a source that is gone (their links pin old weight files)."""
    for other in cache.glob(f"{src.stem}.split.*"):
        if other == keep or not other.is_dir():
            continue
        try:
            source = Path((other / SOURCE).read_text())
        except OSError:
            continue
        if source == src.resolve() or not source.is_file():
            shutil.rmtree(other, ignore_errors=True)


def split_encoder(src: Path, cache: Path) -> tuple[StagePlan, dict[str, Path]]:
    """The stage plan of ``src`` and one ``.onnx`` file per stage in ``cache`` (written on first use).

    Raises SplitError when the graph is not recognised (or OSError when the cache cannot be written).
    """
    entry = cache / f"{src.stem}.split.{_key(src)}"
    index = entry / "stages.json"
    if index.is_file():
        data = json.loads(index.read_text())
        stages = [Stage(s["name"], tuple(s["inputs"]), tuple(s["outputs"])) for s in data]
        stage_plan = StagePlan(stages[0], stages[1], tuple(stages[2:-1]), stages[-1])
        return stage_plan, {s.name: entry / f"{s.name}.onnx" for s in stages}
    import onnx

    model = onnx.load(str(src), load_external_data=False)
    stage_plan = plan(model)
    graph = _Graph(model)
    with building(entry) as tmp:
        for name in _data_files(model):
            _link(src.parent / name, tmp / name)
        for stage in stage_plan.all():
            onnx.save_model(_stage_model(model, graph, stage), str(tmp / f"{stage.name}.onnx"))
        (tmp / "stages.json").write_text(json.dumps([asdict(s) for s in stage_plan.all()], indent=1) + "\n")
        (tmp / SOURCE).write_text(str(src.resolve()))
    _remove_stale(cache, src, entry)
    log.info("split %s into %d stages (cached in %s)", src.name, len(stage_plan.all()), entry)
    return stage_plan, {s.name: entry / f"{s.name}.onnx" for s in stage_plan.all()}
