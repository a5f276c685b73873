"""``assistant bench audiostream``: the incremental audio encoder against the whole-clip one on a model directory.

For clips of several lengths fed in 0.1 s blocks, every row of the incremental encoder
(``engine/audiostream.py``) is compared with the whole-clip ``audio_encoder`` rows (max abs and
relative difference, target 1e-5 relative), and the encoder time left after the end of speech is
printed for both: the incremental one encodes only the audio since the last block, the whole-clip
one the whole utterance. Loads only the audio encoder (no decoder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from assistant.benchmarks.engine_probes import speech
from assistant.benchmarks.report import Report
from assistant.config import load_config
from assistant.config.paths import graph_cache_dir, model_dir
from assistant.engine.audio.audiostream import IncrementalEncoder, StagedEncoder
from assistant.engine.audio.features import FeatureExtractor, audio_token_count, fit_frames
from assistant.engine.decoding.timings import now
from assistant.engine.graphs.model_dir import graph_file
from assistant.engine.graphs.optimized import optimised_path
from assistant.engine.graphs.sessions import Graph, open_graph
from assistant.engine.graphs.spec import load_processor_spec
from assistant.errors import AssistantError

LENGTHS = (1.0, 3.0, 10.0, 12.01)
REL_TOLERANCE = 1e-5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audiostream", help="incremental audio encoder: equality with whole-clip rows, time")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: model.dir from the config)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache for optimised and split graphs "
                        "(default: model.graph_cache_dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)


def _say(msg: str) -> None:
    print(f"bench audiostream: {msg}", file=sys.stderr, flush=True)


def whole_rows(graph: Graph, features: FeatureExtractor, clip: np.ndarray) -> np.ndarray:
    """The whole-clip encoding of ``clip`` (as ``GemmaModel._encode_audio`` does it)."""
    feats = fit_frames(features(clip), graph.input("input_features").shape[1])
    (out,) = graph.run({"input_features": feats.features.astype(graph.dtype("input_features"), copy=False),
                        "input_features_mask": feats.mask}, ["audio_features"])
    return out.reshape(-1, out.shape[-1])[: audio_token_count(clip.size)]


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    root = Path(args.model).expanduser() if args.model else model_dir(config)
    cfg = config.model
    src = root / graph_file("audio_encoder", cfg.audio_precision)
    if not src.is_file():
        raise AssistantError(f"{src}: no audio encoder at model.audio_precision={cfg.audio_precision}")
    cache = Path(args.cache_dir).expanduser() if args.cache_dir else graph_cache_dir(config)
    path = optimised_path(src, "audio_encoder", cfg.audio_precision, cfg, cache, _say)
    _say(f"loading {path} and its stages")
    graph = open_graph("audio_encoder", path, cfg.threads, cfg.spin)
    stages = StagedEncoder.load(path, cache, cfg.threads, cfg.spin)
    if stages is None:
        raise AssistantError(f"{path}: the encoder cannot be split (see the log line above)")
    features = FeatureExtractor(load_processor_spec(root).feature_extractor)
    report = Report(f"Incremental audio encoder: {root.name} ({cfg.audio_precision})")
    report.add("audio_graph", str(path))
    measure(report, graph, stages, features)
    return report.emit(args.json)


def measure(report: Report, graph: Graph, stages: StagedEncoder, features: FeatureExtractor) -> None:
    """One row set per clip length: differences and the encoder time after the end of speech."""
    for seconds in LENGTHS:
        _say(f"{seconds:g} s clip in 0.1 s blocks")
        clip = speech(seconds)
        start = now()
        expected = whole_rows(graph, features, clip)
        whole_s = now() - start
        enc = IncrementalEncoder(stages, features)
        parts = [enc.advance(clip[:end]) for end in range(1600, clip.size, 1600)]
        start = now()
        parts.append(enc.advance(clip, final=True))
        last_s = now() - start
        rows = np.concatenate([p for p in parts if len(p)]).astype(np.float32)
        diff = float(np.abs(rows - expected.astype(np.float32)).max()) if rows.shape == expected.shape else float("inf")
        rel = diff / max(float(np.abs(expected).max()), 1e-12)
        report.add(f"max_abs_diff_{seconds:g}s", diff, "", label=f"max abs difference, {seconds:g} s ({len(expected)} rows)")
        report.add(f"max_rel_diff_{seconds:g}s", rel, "", label=f"max difference / max |row|, {seconds:g} s",
                   target=f"<= {REL_TOLERANCE:g}", ok=rel <= REL_TOLERANCE)
        report.add(f"encoder_after_speech_{seconds:g}s_s", last_s, "s",
                   label=f"encoder after end of speech, {seconds:g} s (incremental)")
        report.add(f"whole_clip_encoder_{seconds:g}s_s", whole_s, "s", label=f"whole-clip encoder, {seconds:g} s")

