"""The ``assistant`` command: global options, subcommand discovery, one-line errors.

Each module in ``assistant.commands`` that defines ``register(subparsers)`` adds one
subcommand; the handler it sets as ``func`` takes the parsed arguments and returns an
exit code. Exit codes: 0 success, 1 a runtime failure, 2 bad usage or configuration,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from assistant import __version__, commands
from assistant.errors import AssistantError, one_line
from assistant.logs import setup_logging

log = logging.getLogger("assistant")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Offline voice assistant for the Raspberry Pi, built around Gemma 4 E2B.",
    )
    parser.add_argument("--version", action="version", version=f"assistant {__version__}")
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file (default: see README)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except AssistantError as err:
        print(f"assistant: error: {one_line(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("assistant: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
