"""``assistant hardware``: detect this machine and recommend a hardware profile."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from assistant.config import load_config, model_dir
from assistant.errors import AssistantError, UsageError
from assistant.hardware.detect import Gpu, detect
from assistant.hardware.profiles import load_profile, load_profiles, recommend
from assistant.hardware.report import as_dict, describe


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("hardware", help="detect this machine and recommend a hardware profile",
                                   description="Detect RAM, cores, CPU features, GPUs and free disk, and recommend "
                                               "a profile from hardware/.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--root", metavar="DIR", default="/", help="read proc/ and sys/ below DIR (default /)")
    parser.add_argument("--models-dir", metavar="DIR",
                        help="where models will be stored, for the free-disk check (default: from the config)")
    parser.add_argument("--vram", metavar="GB", type=float, help="assume one GPU with this much memory")
    parser.set_defaults(func=_detect)
    sub = parser.add_subparsers(dest="hardware_command", metavar="ACTION")
    profiles = sub.add_parser("profiles", help="list the hardware profiles")
    profiles.set_defaults(func=_profiles)
    show = sub.add_parser("show", help="show one profile")
    show.add_argument("name")
    show.set_defaults(func=_show)


def _detect(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"--root {args.root}: not a directory")
    if args.vram is not None and not 0 <= args.vram <= 4096:
        raise UsageError(f"--vram {args.vram:g}: expected 0 to 4096 GB")
    config = load_config(args.config)
    machine = detect(root, Path(args.models_dir) if args.models_dir else model_dir(config))
    if args.vram is not None:
        gpus = (Gpu("assumed", f"GPU with {args.vram:g} GB", args.vram),) if args.vram > 0 else ()
        machine = dataclasses.replace(machine, gpus=gpus)
    profile = recommend(machine, load_profiles())
    if args.json:
        print(json.dumps(as_dict(machine, profile), indent=2))
    else:
        print("\n".join(describe(machine, profile)))
        if config.service.hardware_profile != "auto":
            print(f'Configured in {config.source}: service.hardware_profile = "{config.service.hardware_profile}"')
            try:
                load_profile(config.service.hardware_profile)
            except AssistantError as err:
                print(f"warning: {err}")
    return 0


def _profiles(args: argparse.Namespace) -> int:
    for p in load_profiles():
        print(f"{p.name:<14} {p.description}")
    return 0


def _show(args: argparse.Namespace) -> int:
    p = load_profile(args.name)
    print(Path(p.path).read_text(encoding="utf-8").rstrip())
    return 0
