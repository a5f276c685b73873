"""Subcommands of ``assistant``: each module defines ``register(subparsers)``."""
