"""Errors that reach the user as one line, never as a traceback."""

from __future__ import annotations

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with control characters, line separators and lone surrogates escaped, so it prints as one line."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029) or 0xD800 <= code < 0xE000:
            out.append(_SHORT.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            out.append(ch)
    return "".join(out)


class AssistantError(Exception):
    """A failure the user can act on. ``str(err)`` is the whole message, one line."""

    exit_code = 1


class UsageError(AssistantError):
    """A bad command line: wrong or conflicting options."""

    exit_code = 2


class ConfigError(AssistantError):
    """Bad configuration: names the file, the key, the bad value and what is allowed."""

    exit_code = 2

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        sep = " " if key and problem.startswith("= ") else ": "
        super().__init__(one_line(f"{where}{sep}{problem}"))
