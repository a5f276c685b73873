"""Keep thinking out of spoken text, even when a server leaves it inline in ``content``.

Servers that parse reasoning put it in a separate field (``reasoning_content`` for
llama-server and older vLLM, ``reasoning`` for Ollama and newer vLLM), which the client
drops. Servers that do not leave the model's own markers in the text: ``<think>...</think>``
or Gemma 4's ``<|channel>thought ...<channel|>``. :class:`ThinkFilter` removes those spans
from a stream of text pieces, including markers split across pieces.
"""

from __future__ import annotations

THINK_MARKERS: tuple[tuple[str, str], ...] = (("<think>", "</think>"), ("<|channel>", "<channel|>"))
REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


class ThinkFilter:
    """Streaming filter: :meth:`feed` text pieces in order, get back only what may be spoken."""

    def __init__(self, markers: tuple[tuple[str, str], ...] = THINK_MARKERS) -> None:
        self.markers = markers
        self._pending = ""
        self._closing: str | None = None
        self.hidden_chars = 0

    def feed(self, piece: str) -> str:
        """Visible text of ``piece`` (a suffix that may start a marker is held back)."""
        text = self._pending + piece
        self._pending = ""
        out: list[str] = []
        while text:
            if self._closing is not None:
                end = text.find(self._closing)
                if end < 0:
                    keep = _partial_suffix(text, (self._closing,))
                    self.hidden_chars += len(text) - keep
                    self._pending = text[len(text) - keep:] if keep else ""
                    return "".join(out)
                self.hidden_chars += end
                text = text[end + len(self._closing):]
                self._closing = None
                continue
            start, opening, closing = self._first_opening(text)
            if opening:
                out.append(text[:start])
                text = text[start + len(opening):]
                self._closing = closing
                continue
            keep = _partial_suffix(text, tuple(o for o, _ in self.markers))
            out.append(text[: len(text) - keep])
            self._pending = text[len(text) - keep:] if keep else ""
            break
        return "".join(out)

    def flush(self) -> str:
        """Text held back at the end of the stream (never text inside an unclosed thought)."""
        rest, self._pending = self._pending, ""
        if self._closing is not None:
            self.hidden_chars += len(rest)
            return ""
        return rest

    @property
    def thinking(self) -> bool:
        """True while inside a thinking span."""
        return self._closing is not None

    def _first_opening(self, text: str) -> tuple[int, str, str]:
        best = (len(text), "", "")
        for opening, closing in self.markers:
            at = text.find(opening)
            if 0 <= at < best[0]:
                best = (at, opening, closing)
        return best


def _partial_suffix(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a marker."""
    longest = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), 0, -1):
            if text.endswith(marker[:n]):
                longest = max(longest, n)
                break
    return longest
