"""A pluggable tool-call constraint: free text until ``<|tool_call>`` (or a forced call), then the grammar.

    constraint = ToolCallConstraint.build(schema, tokenizer, stop_ids, force=True)
    constraint.allowed()   # ids allowed next (None: unconstrained text)
    constraint.forced()    # the ids that must come next, up to the next choice (jump-forward span)
    constraint.advance(t)  # after each token, chosen or forced

After the call's ``<tool_call|>`` only the stop id (``<|tool_response>`` where it is one) is allowed:
one action per turn. :meth:`processor` adapts it to the engine's logits-processor hook, for the plain
one-token-per-step loop; :mod:`assistant.engine.grammar.jumpforward` feeds forced spans in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.engine.grammar.grammar import GrammarError, compile_schema
from assistant.engine.grammar.tokengrammar import TokenGrammar, TokenState, single_token_id

Logits = npt.NDArray[np.float32]
CALL_START_TOKEN = "<|tool_call>"
TOOL_RESPONSE_TOKEN = "<|tool_response>"
TEXT, START, CALL, DONE = "text", "start", "call", "done"


@dataclass
class Counts:
    """Tokens of one generation: decoded one at a time by the model (``free``), forced by the grammar, placed by
    scoring a closed set of options in one pass (``scored``), and decoder passes after the prefill."""

    free: int = 0
    forced: int = 0
    scored: int = 0
    passes: int = 0


class ToolCallConstraint:
    """Where one generation stands in the tool-call grammar. One instance per generation."""

    def __init__(self, tokens: TokenGrammar, call_start: int, stop_id: int, force: bool = True) -> None:
        self.tokens = tokens
        self.call_start = call_start
        self.stop_id = stop_id
        self.force = force
        self.phase = START if force else TEXT
        self.state: TokenState = tokens.root
        self._stop = np.array([stop_id], dtype=np.int64)
        self._start = np.array([call_start], dtype=np.int64)

    @classmethod
    def build(cls, schema: Mapping[str, Mapping[str, Any]], tokenizer: Any, stop_ids: Sequence[int],
              force: bool = True, default_step: float = 0.5) -> ToolCallConstraint:
        """Compile ``schema`` for ``tokenizer``; the stop after a call is ``<|tool_response>`` if it is a stop id."""
        return cls.for_tokens(TokenGrammar(compile_schema(schema, default_step), tokenizer), stop_ids, force)

    @classmethod
    def for_tokens(cls, tokens: TokenGrammar, stop_ids: Sequence[int], force: bool = True) -> ToolCallConstraint:
        """A fresh constraint over an already compiled (and cached) token grammar."""
        if not stop_ids:
            raise GrammarError("no stop token ids: a constrained call could not end")
        call_start = single_token_id(tokens.backend, CALL_START_TOKEN)
        response = tokens.backend.token_to_id(TOOL_RESPONSE_TOKEN)
        stop = response if response in stop_ids else stop_ids[0]
        return cls(tokens, call_start, int(stop), force)

    def fresh(self) -> ToolCallConstraint:
        """A new constraint over the same grammar, at its start (for another generation)."""
        return ToolCallConstraint(self.tokens, self.call_start, self.stop_id, self.force)

    def reset(self) -> None:
        self.phase = START if self.force else TEXT
        self.state = self.tokens.root

    @property
    def in_call(self) -> bool:
        return self.phase in (START, CALL)

    def allowed(self) -> npt.NDArray[np.int64] | None:
        """Ids allowed next, or None while the model may write text."""
        if self.phase == TEXT:
            return None
        if self.phase == START:
            return self._start
        if self.phase == DONE:
            return self._stop
        return self.state.allowed

    def forced(self) -> list[int]:
        """The ids that must come next (empty when the model has a choice)."""
        if self.phase == TEXT:
            return []
        if self.phase == DONE:
            return [self.stop_id]
        if self.phase == START:
            return [self.call_start, *self.tokens.forced(self.tokens.root)]
        chain = self.tokens.forced(self.state)
        end = self.tokens.walk(chain, self.state)
        if end is not None and end.final and not end.edges:
            chain.append(self.stop_id)
        return chain

    def is_choice(self) -> bool:
        """Whether the next token is the model's choice (text, or more than one grammatical token)."""
        return self.phase == TEXT or (self.phase == CALL and self.state.is_choice)

    def advance(self, token: int) -> None:
        """Move past ``token``; GrammarError if the grammar forbids it."""
        if self.phase == TEXT:
            if token == self.call_start:
                self.phase, self.state = CALL, self.tokens.root
            return
        if self.phase == START:
            if token != self.call_start:
                raise GrammarError(f"a tool call must start with {CALL_START_TOKEN}, not token {token}")
            self.phase, self.state = CALL, self.tokens.root
            return
        if self.phase == DONE:
            if token != self.stop_id:
                raise GrammarError(f"only the stop token may follow a finished tool call, not token {token}")
            return
        nxt = self.tokens.step(self.state, token)
        if nxt is None:
            raise GrammarError(f"token {token} is not allowed in the tool call here")
        self.state = nxt
        if nxt.final and not nxt.edges:
            self.phase = DONE

    def mask(self, _ids: Sequence[int], logits: Logits) -> Logits:
        """Logits processor: every id but the allowed ones set to -inf (no state change)."""
        allowed = self.allowed()
        if allowed is None:
            return logits
        out = np.full_like(logits, -np.inf)
        out[allowed] = logits[allowed]
        return out

    def processor(self) -> Any:
        """A stateful logits processor for the engine's one-token-per-step loop: advances on the ids it sees."""
        seen: list[int | None] = [None]

        def process(ids: Sequence[int], logits: Logits) -> Logits:
            if seen[0] is None:
                seen[0] = len(ids)
            for token in ids[seen[0]:]:
                self.advance(token)
            seen[0] = len(ids)
            return self.mask(ids, logits)

        return process
