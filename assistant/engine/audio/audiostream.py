"""An exact incremental audio encoder: each call encodes only the audio that arrived since the last one.

Why it is exact. Every part of the Gemma 4 audio encoder after the front end looks back only: the
attention of a conformer layer sees its own and the previous ``attention_context_left - 2`` = 11 rows
(``attention_context_right = 0``; the 12-row chunking only implements that mask), its depthwise
convolution the previous 4, and everything else works per row. So one layer's output row ``i`` depends
on that layer's input rows ``i - 15 .. i``. To make rows ``[a, b)`` of every layer, each layer runs on
its input rows ``[ws, b)`` with ``ws <= a - CONTEXT`` (the older rows are kept from the previous call,
``ws`` on the 12-row chunk grid so the attention blocks line up with the whole-clip ones) and keeps the
outputs ``[a, b)``. The front end (two 3x3 stride-2 convolutions over the mel frames) reads mel frames
``4r - 3 .. 4r + 3`` for row ``r``: it runs on the features of the samples from row ``a - MARGIN``
(640 samples a row, which keeps the STFT framing and the 128-sample padding of the whole clip) and
keeps rows from ``a``. While the clip is still growing only rows whose mel frames lie wholly inside
the audio so far are made (:func:`stable_rows`); ``final=True`` makes the rest.

The stages come from the published graph (``audiosplit.py``), run on ONNX Runtime with the encoder's
session options; ``tests/speed/test_audio_stream.py`` checks the rows against the whole-clip encoding.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnxruntime as ort

from assistant.engine.audio.audiosplit import SplitError, StagePlan, split_encoder
from assistant.engine.audio.features import MAX_SAMPLES, FeatureExtractor, audio_token_count
from assistant.engine.graphs.model_dir import ModelDirError
from assistant.engine.graphs.onnxfile import TensorInfo
from assistant.engine.graphs.sessions import Graph, open_graph

log = logging.getLogger("assistant.engine")

ROW = 640  # samples per encoder row (4 mel frames of 160)
MARGIN = 2  # front-end rows recomputed before the first new one (the first is off: the STFT's left edge)
CONTEXT = 16  # input rows one layer's output row depends on besides its own (11 attention + 4 conv + 1 spare)
CHUNK = 12  # the attention's chunk size: layer windows start on this grid


def stable_rows(samples: int) -> int:
    """Rows whose mel frames (up to ``4r + 3``, each reading samples up to ``160 j + 160``) are all in the audio."""
    return max(0, (samples - 4 * 160 - 1) // ROW + 1)


@dataclass
class StagedEncoder:
    """The encoder's stage sessions (see ``audiosplit.py``)."""

    plan: StagePlan
    graphs: dict[str, Graph]
    shrink: bool = False  # give each stage's arena back after its run (a whole clip, not incremental steps)

    @classmethod
    def load(cls, src: Path, cache: Path, threads: int, spin: bool = False) -> StagedEncoder | None:
        """Split ``src`` (cached in ``cache``) and load its stages; None, with a log line, when it cannot."""
        try:
            stage_plan, files = split_encoder(src, cache)
            graphs = {s.name: open_graph(s.name, files[s.name], threads, spin) for s in stage_plan.all()}
        except (SplitError, ModelDirError, OSError, ValueError) as err:
            log.warning("%s: encoding whole clips (cannot split the encoder: %s)", src.name, err)
            return None
        return cls(stage_plan, graphs)

    def _run(self, name: str, *values: np.ndarray) -> list[np.ndarray]:
        graph = self.graphs[name]
        stage = next(s for s in self.plan.all() if s.name == name)
        feeds = {i: v.astype(graph.dtype(i), copy=False) for i, v in zip(stage.inputs, values, strict=True)}
        return graph.run(feeds, list(stage.outputs), shrink=self.shrink)

    def front(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Front-end rows ``[1, T, H]`` of mel ``features [1, F, M]``."""
        return self._run("front", features, mask)[0]

    def shared(self, window: np.ndarray) -> dict[str, np.ndarray]:
        """The tensors every layer reads besides its input (the attention mask) for ``window``'s rows, all valid."""
        mask = np.ones((1, 4 * window.shape[1]), dtype=np.bool_)
        return dict(zip(self.plan.mask.outputs, self._run("mask", window, mask), strict=True))

    def layer(self, index: int, window: np.ndarray, shared: dict[str, np.ndarray]) -> np.ndarray:
        """Layer ``index`` on its input rows ``window [1, W, H]``."""
        stage = self.plan.layers[index]
        return self._run(stage.name, window, *(shared[t] for t in stage.inputs[1:]))[0]

    def tail(self, hidden: np.ndarray) -> np.ndarray:
        """Audio rows ``[T, D]`` (output projection and ``embed_audio``) of the last layer's rows."""
        out = self._run("tail", hidden)[0]
        return out.reshape(-1, out.shape[-1])


class StagedSession:
    """The whole ``audio_encoder`` graph's ``run`` (``input_features, input_features_mask -> audio_features``)
    computed by its stages, so the encoder's weights are loaded once (in the stages) rather than twice.

    Exact: the layers run on the whole clip as one window; rows past the clip (mask off) come after every
    valid row and the attention looks back only, so they change nothing; the valid rows are returned as
    the graph's final gather does.
    """

    def __init__(self, stages: StagedEncoder) -> None:
        self.stages = stages

    def run(self, outputs: list[str] | None, feeds: dict[str, np.ndarray], run_options: Any = None) -> list[np.ndarray]:
        """``run_options`` (given by ``Graph.run(shrink=True)``): each stage gives its arena back after its run."""
        self.stages.shrink = run_options is not None
        try:
            return self._run(feeds)
        finally:
            self.stages.shrink = False

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        mask = np.asarray(feeds["input_features_mask"])
        hidden = self.stages.front(feeds["input_features"], mask)
        shared = self.stages.shared(hidden)
        for i in range(len(self.stages.plan.layers)):
            hidden = self.stages.layer(i, hidden, shared)
        rows = self.stages.tail(hidden)
        return [rows[: int(mask[0, ::2][::2].sum())]]


def open_staged(name: str, path: Path, inputs: tuple[TensorInfo, ...], outputs: tuple[TensorInfo, ...],
                cache: Path, threads: int, spin: bool) -> tuple[Graph, StagedEncoder] | None:
    """``audio_encoder`` at ``path`` loaded as its stages (a :class:`Graph` running them, and the stages), or None."""
    stages = StagedEncoder.load(path, cache, threads, spin)
    if stages is None:
        return None
    session = cast(ort.InferenceSession, StagedSession(stages))  # only ``run`` is ever called on it
    return Graph(name, path, session, inputs, outputs), stages


class IncrementalEncoder:
    """The audio rows of one growing clip; ``advance`` returns only the rows it has not returned yet."""

    def __init__(self, stages: StagedEncoder, features: FeatureExtractor, max_tokens: int = 750) -> None:
        self.stages = stages
        self.features = features
        self.max_tokens = max_tokens
        self.done = 0  # rows returned so far
        self._kept: list[np.ndarray] = []  # per layer: its input rows [self._start, self.done)
        self._start = 0
        self.runs = 0

    def advance(self, clip: np.ndarray, final: bool = False) -> np.ndarray:
        """New final rows of ``clip`` (float samples so far, same start every call); all of them if ``final``."""
        clip = clip[:MAX_SAMPLES]
        count = audio_token_count(clip.size, self.max_tokens)
        end = count if final else min(count, stable_rows(clip.size))
        a = self.done
        if end <= a:
            return np.zeros((0, 0), dtype=np.float32)
        first = max(0, a - MARGIN)
        feats = self.features(clip[first * ROW :])
        front = self.stages.front(feats.features, feats.mask)
        new = front[:, a - first : end - first]
        if new.shape[1] != end - a:
            raise ValueError(f"the encoder front end gave {front.shape[1]} rows, {end - first} were expected")
        start = max(0, (a - CONTEXT) // CHUNK * CHUNK)
        hidden = new
        kept: list[np.ndarray] = []
        shared: dict[str, np.ndarray] = {}
        for i in range(len(self.stages.plan.layers)):
            window = self._window(i, start, hidden)
            shared = shared or self.stages.shared(window)
            kept.append(window)
            hidden = self.stages.layer(i, window, shared)[:, a - start :]
        rows = self.stages.tail(hidden)
        keep_from = max(0, (end - CONTEXT) // CHUNK * CHUNK)
        self._kept = [w[:, keep_from - start :] for w in kept]
        self._start = keep_from
        self.done = end
        self.runs += 1
        return rows

    def fork(self) -> IncrementalEncoder:
        """A copy that advances on its own (the stages are shared; ``advance`` replaces state, never edits it)."""
        twin = copy.copy(self)
        twin._kept = list(self._kept)
        return twin

    def _window(self, layer: int, start: int, new: np.ndarray) -> np.ndarray:
        """Layer ``layer``'s input rows ``[start, done)`` kept from before, then ``new``."""
        if self.done == 0 or not self._kept:
            return new
        old = self._kept[layer][:, start - self._start :]
        return np.concatenate([old, new.astype(old.dtype, copy=False)], axis=1)
