"""ONNX Runtime sessions for the graphs, with their signatures read from session metadata."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from assistant.engine.graphs.model_dir import ModelDirError
from assistant.engine.graphs.onnxfile import TensorInfo

log = logging.getLogger("assistant.engine")

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bfloat16)": "bfloat16",
}


def _info(arg: Any) -> TensorInfo:
    dims = tuple(d if isinstance(d, int | str) else None for d in (arg.shape or ()))
    return TensorInfo(arg.name, _ORT_TYPES.get(arg.type, arg.type), dims)


def session_options(threads: int, spin: bool = False) -> ort.SessionOptions:
    """Sequential execution, all graph optimisations, ``threads`` intra-op threads (0 = ORT's choice).

    ``spin``: let idle intra-op threads busy-wait for work (ORT's default). Off by default: a spinning
    pool burns its cores between operators and collapses when another process needs a core.
    """
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads > 0:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return opts


def _shrink_options() -> ort.RunOptions:
    opts = ort.RunOptions()
    opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return opts


_SHRINK = _shrink_options()


@dataclass
class Graph:
    """One loaded graph: its session, signature, and the numpy dtype each input wants."""

    name: str
    path: Path
    session: ort.InferenceSession
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def input_names(self) -> frozenset[str]:
        return frozenset(i.name for i in self.inputs)

    def input(self, name: str) -> TensorInfo:
        return next(i for i in self.inputs if i.name == name)

    def dtype(self, name: str) -> np.dtype[Any]:
        return np.dtype(self.input(name).dtype)

    def run(self, feeds: Mapping[str, np.ndarray], outputs: list[str] | None = None,
            shrink: bool = False) -> list[np.ndarray]:
        """``shrink``: give the arena's free chunks back after the run (for big one-off runs: prefill, audio)."""
        return self.session.run(outputs, dict(feeds), _SHRINK if shrink else None)


def open_graph(name: str, path: Path, threads: int, spin: bool = False) -> Graph:
    """Load ``path`` into ONNX Runtime; a load failure is one line naming the file."""
    try:
        session = ort.InferenceSession(str(path), sess_options=session_options(threads, spin), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises several unrelated exception types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelDirError(f"{path}: ONNX Runtime cannot load it ({first[:300]})") from err
    inputs = tuple(_info(a) for a in session.get_inputs())
    outputs = tuple(_info(a) for a in session.get_outputs())
    log.debug("loaded %s: %s -> %s", path.name, [i.describe() for i in inputs], [o.describe() for o in outputs])
    return Graph(name, path, session, inputs, outputs)
