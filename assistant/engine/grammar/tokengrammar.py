"""The character grammar lifted to token ids, lazily, with the tokenizer's own (canonical) tokenization.

Special tokens split text before tokenization, so the text between two of them (a *segment*: a
device id, ``,state:``, ``,percent:50}``) is tokenized on its own exactly as the chat template's
output would be. From a grammar state at a segment start every segment string up to the next
special symbol is enumerated, tokenized in one batch and put in a token trie; the special symbols
become their single token ids. States are built on first visit and cached, with their allowed-id
arrays, so a decode step costs one dict lookup and one array index.

Only the canonical tokenization of each option is allowed (``kitchen_light`` as the tokenizer
splits it, never letter by letter): the model learnt those, and a choice among N options costs
as many free tokens as the options' token tries have branch points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.engine.grammar.grammar import SYMBOLS, Grammar, GrammarError, Node

MAX_SEGMENTS = 50000  # strings enumerated from one state


class TokenState:
    """A state of the token automaton. ``edges`` maps token id to the next state (grammar nodes until visited)."""

    __slots__ = ("_allowed", "edges", "final")

    def __init__(self) -> None:
        self.edges: dict[int, TokenState | Node] = {}
        self.final = False
        self._allowed: npt.NDArray[np.int64] | None = None

    @property
    def allowed(self) -> npt.NDArray[np.int64]:
        if self._allowed is None:
            self._allowed = np.fromiter(sorted(self.edges), dtype=np.int64, count=len(self.edges))
        return self._allowed

    @property
    def is_choice(self) -> bool:
        """More than one way on (a free token) rather than exactly one (forced)."""
        return len(self.edges) + self.final > 1


def single_token_id(backend: Any, token: str) -> int:
    """The id of a special token that must be one token in this vocabulary."""
    tid = backend.token_to_id(token)
    if tid is None or backend.encode(token, add_special_tokens=False).ids != [tid]:
        raise GrammarError(f"the tokenizer has no single token {token!r}; this model cannot use the tool-call grammar")
    return int(tid)


class TokenGrammar:
    """Token-level view of a :class:`Grammar` for one tokenizer (a ``tokenizers.Tokenizer`` or a fast HF tokenizer)."""

    def __init__(self, grammar: Grammar, tokenizer: Any) -> None:
        self.grammar = grammar
        self.backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
        self.symbol_ids = {sym: single_token_id(self.backend, token) for token, sym in SYMBOLS.items()}
        self._states: dict[int, TokenState] = {}
        self._encoded: dict[str, list[int]] = {}
        self.root = self.state(grammar.root)

    def state(self, node: Node) -> TokenState:
        """The token state at a segment start (cached per grammar node)."""
        found = self._states.get(id(node))
        if found is None:
            found = self._states[id(node)] = self._build(node)
        return found

    def step(self, state: TokenState, token: int) -> TokenState | None:
        """The state after ``token``, or None when the grammar does not allow it here."""
        nxt = state.edges.get(token)
        if isinstance(nxt, Node):
            nxt = state.edges[token] = self.state(nxt)
        return nxt

    def walk(self, ids: Sequence[int], state: TokenState | None = None) -> TokenState | None:
        s: TokenState | None = state or self.root
        for t in ids:
            s = self.step(s, t) if s is not None else None
        return s

    def forced(self, state: TokenState) -> list[int]:
        """The only token sequence possible from ``state`` up to the next choice or the end of the call."""
        out: list[int] = []
        while not state.final and len(state.edges) == 1:
            token = next(iter(state.edges))
            out.append(token)
            nxt = self.step(state, token)
            assert nxt is not None
            state = nxt
        return out

    def cost(self, ids: Sequence[int]) -> tuple[int, int]:
        """(free, forced) tokens along ``ids`` from the root; GrammarError if the path leaves the grammar."""
        free = forced = 0
        state = self.root
        for t in ids:
            if state.is_choice:
                free += 1
            else:
                forced += 1
            nxt = self.step(state, t)
            if nxt is None:
                raise GrammarError(f"token {t} ({self.backend.id_to_token(t)!r}) is not allowed there")
            state = nxt
        return free, forced

    def encode(self, text: str) -> list[int]:
        """Canonical ids of a call body (special tokens written out), as the chat template's text tokenizes."""
        return list(self.backend.encode(text, add_special_tokens=False).ids)

    def _build(self, node: Node) -> TokenState:
        segments = self._segments(node)
        self._encode_all([t for t, _ in segments if t])
        root = TokenState()
        for text, end in segments:
            state = root
            for tid in self._encoded[text] if text else ():
                nxt = state.edges.get(tid)
                if not isinstance(nxt, TokenState):
                    nxt = state.edges[tid] = TokenState()
                state = nxt
            state.final = state.final or end.final
            for sym, child in end.edges.items():
                if sym in self.symbol_ids:
                    state.edges[self.symbol_ids[sym]] = child
        return root

    def _segments(self, node: Node) -> list[tuple[str, Node]]:
        """Every plain-text string from ``node`` to a state with a special-symbol edge or the end."""
        out: list[tuple[str, Node]] = []
        path: list[str] = []  # the characters from ``node`` to the state being visited (depth-first)
        stack: list[tuple[int, str, Node]] = [(0, "", node)]
        while stack:
            depth, ch, n = stack.pop()
            del path[depth:]
            if ch:
                path.append(ch)
            if n.final or any(c in self.symbol_ids for c in n.edges):
                out.append(("".join(path), n))
                if len(out) > MAX_SEGMENTS:
                    raise GrammarError(f"more than {MAX_SEGMENTS} alternatives between two special tokens")
            stack.extend((len(path), c, child) for c, child in n.edges.items() if c not in self.symbol_ids)
        return out

    def _encode_all(self, texts: list[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self._encoded]
        if not todo:
            return
        for text, enc in zip(todo, self.backend.encode_batch(todo, add_special_tokens=False), strict=True):
            ids = list(enc.ids)
            if self.backend.decode(ids, skip_special_tokens=False) != text:
                raise GrammarError(f"the tokenizer does not round-trip {text!r}; cannot constrain tool calls with it")
            self._encoded[text] = ids
