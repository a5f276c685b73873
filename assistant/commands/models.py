"""``assistant models pull|verify|list``: get, check and find Gemma 4 ONNX model directories."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from assistant.config import load_config, model_dir, state_dir
from assistant.config.schema import PRECISIONS
from assistant.config.validate import directory_problem
from assistant.engine.graphs.hub import REPOS, default_dir_name
from assistant.errors import AssistantError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="download, verify and list model directories")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    pull = sub.add_parser("pull", help="download a model from the Hugging Face hub (resumable)")
    pull.add_argument("model", choices=sorted(REPOS), help="which model (e4b: larger, for x86 machines; see "
                      "'assistant hardware')")
    pull.add_argument(
        "--precision",
        action="append",
        choices=PRECISIONS,
        help="precision of every graph (repeatable; default: the ones the config names per graph)",
    )
    pull.add_argument("--dir", help="target directory (default for e2b: model.dir from the config; "
                      "for others: <state_dir>/models/<repository name>)")
    pull.add_argument("--revision", help="hub revision (default: main)")
    pull.add_argument("--text-only", action="store_true", help="skip the audio encoder")
    pull.add_argument("--gguf", metavar="REPO:FILE", help="also fetch this GGUF of the text decoder from the hub as "
                      "<dir>/gguf/model.gguf, for model.backend = \"llama.cpp\" (its SHA-256 is checked)")
    pull.set_defaults(func=_pull)
    verify = sub.add_parser("verify", help="check files, shards, graph signatures and checksums")
    verify.add_argument("dir", nargs="?", help="model directory (default: model.dir from the config)")
    verify.set_defaults(func=_verify)
    listing = sub.add_parser("list", help="show installed model directories, precisions and sizes")
    listing.set_defaults(func=_list)


def _pull(args: argparse.Namespace) -> int:
    from assistant.engine.graphs.hub import pull, pull_gguf

    config = load_config(args.config)
    configured = model_dir(config)
    if args.dir:
        dest = Path(args.dir).expanduser()
    elif args.model == "e2b":
        dest = configured
    else:  # model.dir (default: E2B) is not overwritten by another model
        dest = state_dir(config) / "models" / default_dir_name(args.model)
    problem = directory_problem(dest)
    if problem:  # before the download starts, not after
        raise AssistantError(f"cannot put the model in {dest}: {problem} (choose another place with --dir)")
    m = config.model
    graphs = ["embed_tokens", "decoder_model_merged"] + ([] if args.text_only else ["audio_encoder"])
    if args.precision:
        selection = {g: set(args.precision) for g in graphs}
    else:
        per_graph = {
            "audio_encoder": m.audio_precision,
            "embed_tokens": m.embed_precision,
            "decoder_model_merged": m.decoder_precision,
        }
        selection = {g: {per_graph[g]} for g in graphs}
    manifest = pull(args.model, dest, selection, args.revision)
    if args.gguf:
        manifest = pull_gguf(args.gguf, dest)
    print(f"done: {dest} (checksums in {manifest.name}); check it with 'assistant models verify {dest}'")
    if dest.resolve() != configured.resolve():
        print(f'to use it, set model.dir = "{dest}" in the [model] section of the config')
    return 0


def _verify(args: argparse.Namespace) -> int:
    from assistant.engine.verify import verify

    target = Path(args.dir).expanduser() if args.dir else model_dir(load_config(args.config))
    verify(target, say=lambda line: print(line, flush=True))
    print(f"{target}: OK")
    return 0


def _list(args: argparse.Namespace) -> int:
    from assistant.engine.verify import inventory

    config = load_config(args.config)
    configured = model_dir(config)
    found = inventory([configured, state_dir(config) / "models"])
    if not found:
        print(f"No model installed (looked in {configured} and {state_dir(config) / 'models'}).")
        print("Get one with 'assistant models pull e2b', or copy a model directory and set model.dir.")
        return 0
    for item in found:
        mark = " (configured)" if item.path.resolve() == configured.resolve() else ""
        print(f"{item.path}{mark}  {_human(item.size)}")
        for graph, precisions in item.precisions.items():
            print(f"  {graph:<22} {', '.join(precisions) or '-'}")
        if item.error:
            print(f"  problem: {item.error}", file=sys.stdout)
    return 0


def _human(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.2f} {unit}"
    return f"{size} B"
