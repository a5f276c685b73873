"""``assistant doctor``: check everything the assistant needs, and say how to fix what is wrong."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from assistant.config import Config, load_config
from assistant.errors import ConfigError
from assistant.service.checks import default_checks
from assistant.service.doctor import Check, Result, report


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("doctor", help="check microphone, speaker, model, broker, tiers and the machine")
    parser.add_argument("--only", action="append", metavar="CHECK", help="run only this check (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    parser.set_defaults(func=_doctor)


def _config_result(config: Config) -> Result:
    """What ``config check`` finds: the first error fails, else the first warning warns."""
    from assistant.config.validate import ERROR, findings

    found = findings(config)
    worst = next((f for f in found if f.level == ERROR), found[0] if found else None)
    if worst is None:
        return Result.ok(f"{config.source} is valid")
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    fix = "see 'assistant config check', which lists every problem"
    return (Result.fail if worst.level == ERROR else Result.warn)(str(worst.error(config.source)) + more, fix)


def _doctor(args: argparse.Namespace) -> int:
    checks = default_checks()
    names = {c.name for c in checks}
    if args.only and not set(args.only) <= names:
        unknown = ", ".join(sorted(set(args.only) - names))
        raise ConfigError("--only", "", f"unknown check {unknown} (checks: {', '.join(c.name for c in checks)})")
    try:
        config = load_config(args.config)
        config_check = Check("config", _config_result)
    except ConfigError as err:
        config, problem = Config(), str(err)
        config_check = Check("config", lambda c: Result.fail(problem + " (checking the rest with the defaults)",
                                                             "correct it; 'assistant config check' shows the first problem"))
    return report([config_check, *checks], config, sys.stdout, as_json=args.json,
                  only=set(args.only) | {"config"} if args.only else None)
