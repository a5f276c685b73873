"""``assistant config check|show``: validate and print the resolved configuration."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from assistant.config import Config, load_config
from assistant.config.validate import ERROR, findings
from assistant.errors import ConfigError, one_line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="check or show the configuration")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a configuration file as 'run' would (exit 2 on any error; "
                           "warnings do not fail)")
    check.add_argument("file", nargs="?", help="file to check (default: the one the assistant would use)")
    check.set_defaults(func=_check)
    show = sub.add_parser("show", help="print the resolved configuration as TOML (secrets hidden)")
    show.add_argument("file", nargs="?", help="file to resolve (default: the one the assistant would use)")
    show.set_defaults(func=_show)


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.file or args.config)
    found = findings(config)
    for finding in found:
        print(f"assistant: {finding.level}: {one_line(str(finding.error(config.source)))}", file=sys.stderr)
    errors = sum(f.level == ERROR for f in found)
    if errors:
        raise ConfigError(config.source, "", f"{errors} problem{'s' if errors > 1 else ''} (listed above)")
    print(f"{config.source}: OK" + (f" ({len(found)} warning{'s' if len(found) > 1 else ''})" if found else ""))
    return 0


def _show(args: argparse.Namespace) -> int:
    config = load_config(args.file or args.config)
    print(f"# resolved from {config.source}")
    print(to_toml(config))
    return 0


def to_toml(config: Config) -> str:
    """The resolved configuration as a valid config file; secret values are left out, with a comment."""
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
            lines.append(_line(f, item))
        for name, table in nested:
            lines.append(f"\n[[{name}]]")
            for f in dataclasses.fields(table):
                lines.append(_line(f, getattr(table, f.name)))
    return "\n".join(lines).lstrip("\n")


def _line(f: dataclasses.Field[Any], value: Any) -> str:
    if f.metadata.get("secret"):
        state = "set" if value else "not set"
        return f"# {f.name}: {state}; never shown, read from {f.name}_file or $CREDENTIALS_DIRECTORY/{f.metadata['secret']}"
    return f"{f.name} = {_literal(value)}"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
                             for c in value) + '"'
    if isinstance(value, float) and value != value:
        return "nan"
    return repr(value)
