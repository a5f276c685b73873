"""``assistant config check|show``: validate and print the resolved configuration."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from assistant.config import Config, load_config


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="check or show the configuration")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a configuration file and exit non-zero on the first problem")
    check.add_argument("file", nargs="?", help="file to check (default: the one the assistant would use)")
    check.set_defaults(func=_check)
    show = sub.add_parser("show", help="print the resolved configuration as TOML (secrets hidden)")
    show.add_argument("file", nargs="?", help="file to resolve (default: the one the assistant would use)")
    show.set_defaults(func=_show)


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.file or args.config)
    print(f"{config.source}: OK")
    return 0


def _show(args: argparse.Namespace) -> int:
    config = load_config(args.file or args.config)
    print(f"# resolved from {config.source}")
    print(to_toml(config))
    return 0


def to_toml(config: Config) -> str:
    """The resolved configuration in TOML, with secret values replaced by ``<set>``/``<unset>``."""
    lines: list[str] = []
    for section in dataclasses.fields(config):
        if section.name == "source":
            continue
        value = getattr(config, section.name)
        lines.append(f"\n[{section.name}]")
        nested: list[tuple[str, Any]] = []
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if isinstance(item, tuple):
                nested.extend((f"{section.name}.{f.name}", v) for v in item)
                continue
            lines.append(f"{f.name} = {_literal(item, bool(f.metadata.get('secret')))}")
        for name, table in nested:
            lines.append(f"\n[[{name}]]")
            for f in dataclasses.fields(table):
                lines.append(f"{f.name} = {_literal(getattr(table, f.name), bool(f.metadata.get('secret')))}")
    return "\n".join(lines).lstrip("\n")


def _literal(value: Any, secret: bool) -> str:
    if secret:
        return '"<set>"' if value else '"<unset>"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
