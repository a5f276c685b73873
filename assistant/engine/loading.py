"""Opening one graph of the model directory: checked, optimised when configured, loaded, checked again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from assistant.config.schema import ModelConfig
from assistant.engine.audio.audiostream import StagedEncoder, open_staged
from assistant.engine.graphs import contract
from assistant.engine.graphs.model_dir import check_graph_files, graph_file
from assistant.engine.graphs.onnxfile import OnnxInfo
from assistant.engine.graphs.optimized import optimised_path
from assistant.engine.graphs.residency import ReleasingPages, external_data_files, release_clean_pages
from assistant.engine.graphs.sessions import Graph, open_graph
from assistant.engine.graphs.spec import ModelSpec

log = logging.getLogger("assistant.engine")


def check_files(root: Path, name: str, precision: str, spec: ModelSpec, mel_bins: int) -> OnnxInfo:
    """A graph's files and signature, checked before ONNX Runtime reads any weight."""
    info = check_graph_files(root, name, precision)
    contract.check_graph(name, Path(graph_file(name, precision)).name, info.inputs, info.outputs, spec, mel_bins)
    return info


def open_checked(root: Path, name: str, precision: str, info: OnnxInfo, spec: ModelSpec, mel_bins: int,
                 cfg: ModelConfig, graph_cache: Path,
                 progress: Callable[[str], None] | None) -> tuple[Graph, StagedEncoder | None]:
    """Optimise a graph checked by :func:`check_files` (``info``) when configured, load it, and check the session.

    ``audio_encoder`` is loaded as its stages when ``cfg.stream_encoder`` and the graph can be split (its
    weights once; the stages are returned too, for incremental encoding); else as published."""
    rel = graph_file(name, precision)
    label = Path(rel).name
    path = optimised_path(root / rel, name, precision, cfg, graph_cache, progress)
    log.info("loading %s", path)
    release = cfg.release_weight_pages and name != "embed_tokens"  # embed_tokens repacks nothing: its pages are rows
    staged = None
    with ReleasingPages(external_data_files(path) if release else ()) as pages:
        if name == "audio_encoder" and cfg.stream_encoder:
            staged = open_staged(name, path, info.inputs, info.outputs, graph_cache, cfg.threads, cfg.spin)
        graph = open_graph(name, path, cfg.threads, cfg.spin) if staged is None else staged[0]
    if release and staged is not None:  # the stages map hard links of the weight files, under their own names
        pages.released += release_clean_pages(f for g in staged[1].graphs.values() for f in external_data_files(g.path))
    if release:
        log.info("released %.0f MB of %s weight pages read while repacking", pages.released / 2**20, path.name)
    contract.check_graph(name, label, graph.inputs, graph.outputs, spec, mel_bins)
    return graph, None if staged is None else staged[1]
