"""A loaded model's step under a tool-call constraint (jump-forward, optional closed-set scoring).

    constraint = ToolCallConstraint.for_tokens(grammar_for(schema, model.tokenizer), model.generation_spec.eos_token_ids)
    gen = stream_constrained(model, messages, tools, constraint)
    for event in gen: ...
    gen.counts.free, gen.counts.forced, gen.counts.scored, gen.counts.passes

The same as ``model.stream(messages, tools, replace(opts, constraint=constraint, scoring=scoring))``.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from assistant.engine.decoding.decode import KvCache
from assistant.engine.grammar.constraint import ToolCallConstraint
from assistant.engine.grammar.grammar import GrammarError, compile_schema
from assistant.engine.grammar.jumpforward import Scoring
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.engine.model import GemmaModel, Generation, GenerationOptions
from assistant.protocols import Event, Message

log = logging.getLogger("assistant.engine")
_GRAMMARS: OrderedDict[tuple[int, str, float], TokenGrammar] = OrderedDict()
GRAMMAR_CACHE_SIZE = 8


def grammar_for(schema: Mapping[str, Mapping[str, Any]], tokenizer: Any, default_step: float = 0.5) -> TokenGrammar:
    """The token grammar of ``schema`` for ``tokenizer``, reused while the schema stays the same (LRU of 8)."""
    key = (id(tokenizer), json.dumps(schema, sort_keys=True, default=str), default_step)
    found = _GRAMMARS.get(key)
    if found is None:
        found = _GRAMMARS[key] = TokenGrammar(compile_schema(schema, default_step), tokenizer)
        while len(_GRAMMARS) > GRAMMAR_CACHE_SIZE:
            _GRAMMARS.popitem(last=False)
    _GRAMMARS.move_to_end(key)
    return found


def resilient_grammar(schema: Mapping[str, Mapping[str, Any]], tokenizer: Any, default_step: float = 0.5) -> TokenGrammar:
    """:func:`grammar_for`, but a device whose part of the schema cannot be compiled is left out (and named in the
    log) instead of failing the turn for every device."""
    try:
        return grammar_for(schema, tokenizer, default_step)
    except (GrammarError, RecursionError, MemoryError) as err:
        bad = sorted({d for tool in schema for d in _devices(schema, tool) if not _compiles(schema, tool, d, tokenizer)})
        if not bad:
            raise
        shown = ", ".join(repr(d[:60]) for d in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        log.error("left device(s) %s out of this turn's tool grammar (%s); see `assistant devices mqtt`",
                  shown, str(err)[:200] or type(err).__name__)
        return grammar_for(without_devices(schema, set(bad)), tokenizer, default_step)


def _devices(schema: Mapping[str, Mapping[str, Any]], tool: str) -> list[str]:
    spec = schema[tool].get("arguments", {}).get("device", {})
    return [str(d) for d in spec.get("enum", [])] if isinstance(spec, Mapping) else []


def _compiles(schema: Mapping[str, Mapping[str, Any]], tool: str, device: str, tokenizer: Any) -> bool:
    """Whether ``tool`` narrowed to ``device`` compiles, with every token state built (nothing left to fail later)."""
    try:
        tokens = TokenGrammar(compile_schema(without_devices({tool: schema[tool]}, set(_devices(schema, tool)) - {device})),
                              tokenizer)
        todo, seen = [tokens.root], set[int]()
        while todo and len(seen) < 20000:
            state = todo.pop()
            if id(state) in seen:
                continue
            seen.add(id(state))
            todo.extend(s for t in list(state.edges) if (s := tokens.step(state, t)) is not None)
    except (GrammarError, RecursionError, MemoryError):
        return False
    return True


def without_devices(schema: Mapping[str, Mapping[str, Any]], drop: set[str]) -> dict[str, dict[str, Any]]:
    """``schema`` with the ``drop`` ids removed from every device enum; a tool left with no device is removed."""
    out: dict[str, dict[str, Any]] = {}
    for name, tool in schema.items():
        ids = _devices(schema, name)
        if not ids:
            out[name] = dict(tool)
            continue
        kept = [d for d in ids if d not in drop]
        if not kept:
            continue
        arguments = {**tool["arguments"], "device": {**tool["arguments"]["device"], "enum": kept}}
        per_device = {k: v for k, v in tool.get("per_device", {}).items() if k not in drop}
        out[name] = {**tool, "arguments": arguments, "per_device": per_device}
    return out


def stream_constrained(
    model: GemmaModel,
    messages: Sequence[Message],
    tools: Sequence[Mapping[str, Any]],
    constraint: ToolCallConstraint,
    options: GenerationOptions | None = None,
    cache: KvCache | None = None,
    scoring: Scoring | None = None,
) -> Generation:
    """:meth:`GemmaModel.stream` with ``constraint`` and jump-forward (messages used exactly as given).

    ``scoring``: score closed choices in one batched pass where its policy says so (see ``scoring.py``);
    when sampling, options are drawn with the sampling seed, otherwise the most likely one is taken.
    """
    opts = replace(options or model.options(), constraint=constraint, scoring=scoring)
    return model.stream(messages, tools, opts, cache)


Schema = Mapping[str, Mapping[str, Any]]


class GrammarEngine:
    """An :class:`assistant.protocols.Engine` whose tool calls follow the grammar of the current tool schema.

    ``schema`` is the schema or a callable giving it per turn (the service passes ``home.tool_schema``).
    ``force``: every turn is a call; otherwise the model may answer in text, and a call it starts is
    constrained. ``last`` is the latest generation (counts, timings).
    """

    def __init__(self, model: GemmaModel, schema: Schema | Callable[[], Schema], force: bool = False,
                 scoring: Scoring | None = None, options: GenerationOptions | None = None) -> None:
        self.model = model
        self.schema = schema
        self.force = force
        self.scoring = scoring
        self.options = options
        self.last: Generation | None = None

    def constraint(self) -> ToolCallConstraint:
        schema = self.schema() if callable(self.schema) else self.schema
        grammar = resilient_grammar(schema, self.model.tokenizer)
        return ToolCallConstraint.for_tokens(grammar, self.model.generation_spec.eos_token_ids, force=self.force)

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]:
        messages = self.model.with_system_prompt(messages)
        self.last = stream_constrained(self.model, messages, tools, self.constraint(), self.options,
                                       scoring=self.scoring)
        return iter(self.last)
