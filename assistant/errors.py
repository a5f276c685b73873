"""Errors that reach the user as one line, never as a traceback."""

from __future__ import annotations


class AssistantError(Exception):
    """A failure the user can act on. ``str(err)`` is the whole message, one line."""

    exit_code = 1


class ConfigError(AssistantError):
    """Bad configuration: names the file, the key, the bad value and what is allowed."""

    exit_code = 2

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        sep = " " if key and problem.startswith("= ") else ": "
        super().__init__(f"{where}{sep}{problem}")
