"""Server-sent events: split a byte stream into the ``data`` payloads of its events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def sse_data(lines: Iterable[bytes]) -> Iterator[str]:
    """Yield the joined ``data:`` field of each event; comments and other fields are skipped.

    ``lines`` are raw lines as read from the response (with or without line endings).
    An event ends at a blank line; a last event without one is still yielded.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
    if data:
        yield "\n".join(data)
