"""Tool-call grammar: the schema's closed sets compiled into a character-level automaton.

The language is exactly what the chat template writes after ``<|tool_call>``::

    call:set_power{device:<|"|>kitchen_light<|"|>,state:<|"|>on<|"|>}<tool_call|>

Keys in the template's order (``dictsort``: case-insensitive alphabetical), strings between quote
tokens, numbers bare (integers as ``21``, fractions as ``21.5``), booleans ``true``/``false``.
The schema is plain data (``assistant.home.tools.tool_schema()`` shape)::

    {tool: {"arguments": {name: {"type", "enum" | "minimum"/"maximum"/"step"}},
            "required": [...], "per_device": {device_id: {arg: narrower spec}},
            "exclusive": [[arg, ...], ...],   # optional: at most one of each group
            "min_optional": int}}             # optional: see ``_min_optional``

Special tokens are single symbols (private-use characters, ``SYMBOLS``), so a quote spelled out
of ``<``, ``|`` and ``"`` never matches. The automaton is acyclic and deterministic; nodes are
hash-consed, so equal continuations (every device's ``,state:...``) are one node.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assistant.errors import AssistantError

QUOTE_TOKEN = '<|"|>'
CALL_END_TOKEN = "<tool_call|>"
QUOTE = "\ue000"
CALL_END = "\ue001"
SYMBOLS = {QUOTE_TOKEN: QUOTE, CALL_END_TOKEN: CALL_END}  # special token text -> symbol
MAX_VALUES = 20000  # per argument: a closed set, not a free number


class GrammarError(AssistantError):
    """A schema that cannot become a closed grammar (open strings, unbounded numbers, too many values)."""


class Node:
    """One automaton state: outgoing symbol edges and whether a complete call ends here. Immutable once built."""

    __slots__ = ("edges", "final")

    def __init__(self, edges: dict[str, Node], final: bool) -> None:
        self.edges = edges
        self.final = final

    def walk(self, text: str) -> Node | None:
        """The state after ``text``, or None when it leaves the language."""
        node: Node | None = self
        for ch in text:
            node = node.edges.get(ch) if node is not None else None
        return node

    def forced(self) -> str:
        """The only possible continuation up to the next choice (or the end)."""
        out: list[str] = []
        node = self
        while not node.final and len(node.edges) == 1:
            ch, node = next(iter(node.edges.items()))
            out.append(ch)
        return "".join(out)


_Trie = tuple[dict[str, "_Trie"], list[Node]]  # children by character, and the nodes a text ends at


class Builder:
    """Makes hash-consed nodes: structurally equal states are the same object."""

    def __init__(self) -> None:
        self._interned: dict[tuple[bool, tuple[tuple[str, int], ...]], Node] = {}
        self._unions: dict[tuple[int, int], Node] = {}
        self.accept = self.node({}, True)

    def node(self, edges: dict[str, Node], final: bool) -> Node:
        key = (final, tuple(sorted((c, id(n)) for c, n in edges.items())))
        found = self._interned.get(key)
        if found is None:
            found = self._interned[key] = Node(dict(sorted(edges.items())), final)
        return found

    def alt(self, pairs: Iterable[tuple[str, Node]]) -> Node:
        """The union of ``text`` followed by ``node`` over all pairs (built iteratively: any text length)."""
        trie: _Trie = ({}, [])
        for text, node in pairs:
            at = trie
            for ch in text:
                at = at[0].setdefault(ch, ({}, []))
            at[1].append(node)
        built: dict[int, Node] = {}
        stack: list[tuple[_Trie, bool]] = [(trie, False)]
        while stack:
            at, ready = stack.pop()
            if not ready:
                stack.append((at, True))
                stack.extend((child, False) for child in at[0].values())
                continue
            out = self.node({c: built.pop(id(child)) for c, child in at[0].items()}, False)
            for node in at[1]:
                out = self.union(out, node)
            built[id(at)] = out
        return built[id(trie)]

    def union(self, a: Node, b: Node) -> Node:
        """A state accepting what either accepts (memoised, iterative; the automata are acyclic)."""
        stack = [(a, b)]
        while stack:
            x, y = stack[-1]
            if x is y or self._union_key(x, y) in self._unions:
                stack.pop()
                continue
            todo = [(x.edges[ch], cy) for ch, cy in y.edges.items() if ch in x.edges and not self._known(x.edges[ch], cy)]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            edges = dict(x.edges)
            for ch, cy in y.edges.items():
                edges[ch] = self._united(edges[ch], cy) if ch in edges else cy
            self._unions[self._union_key(x, y)] = self.node(edges, x.final or y.final)
        return self._united(a, b)

    @staticmethod
    def _union_key(a: Node, b: Node) -> tuple[int, int]:
        return (id(a), id(b)) if id(a) < id(b) else (id(b), id(a))

    def _known(self, a: Node, b: Node) -> bool:
        return a is b or self._union_key(a, b) in self._unions

    def _united(self, a: Node, b: Node) -> Node:
        return a if a is b else self._unions[self._union_key(a, b)]

    def size(self) -> int:
        return len(self._interned)


class Grammar:
    """The compiled tool-call language; ``root`` is the state right after ``<|tool_call>``."""

    def __init__(self, root: Node, builder: Builder, tools: Sequence[str]) -> None:
        self.root = root
        self.builder = builder
        self.tools = tuple(tools)

    def accepts(self, text: str) -> bool:
        """Whether ``text`` (special tokens written out, e.g. from the chat template) is one complete call."""
        node = self.root.walk(to_symbols(text))
        return node is not None and node.final

    @property
    def states(self) -> int:
        return self.builder.size()


def to_symbols(text: str) -> str:
    for token, sym in SYMBOLS.items():
        text = text.replace(token, sym)
    return text


def format_number(x: float) -> str:
    """Bare number as the template writes it for integers; shortest decimals otherwise (``21.5``)."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.6f}".rstrip("0").rstrip(".")


def value_strings(name: str, spec: Mapping[str, Any], default_step: float) -> list[str]:
    """Every serialised value an argument may take (quotes as symbols)."""
    if "enum" in spec:
        return [_literal(name, v) for v in spec["enum"]]
    kind = spec.get("type", "string")
    if kind == "boolean":
        return ["true", "false"]
    if kind not in ("integer", "number"):
        raise GrammarError(f"argument {name!r}: a {kind} without an enum is not a closed set")
    lo, hi = spec.get("minimum"), spec.get("maximum")
    if lo is None or hi is None:
        raise GrammarError(f"argument {name!r}: a number needs both minimum and maximum")
    step = float(spec.get("step") or (1 if kind == "integer" else default_step))
    count = int((float(hi) - float(lo)) / step + 1e-9) + 1
    if count > MAX_VALUES or count < 1:
        raise GrammarError(f"argument {name!r}: {count} values from {lo} to {hi} by {step} (at most {MAX_VALUES})")
    return [format_number(round(float(lo) + i * step, 6)) for i in range(count)]


def _literal(name: str, v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        if any(s in v for s in SYMBOLS.values()) or any(t in v for t in SYMBOLS):
            raise GrammarError(f"argument {name!r}: value {v!r} contains a special token")
        return f"{QUOTE}{v}{QUOTE}"
    if isinstance(v, (int, float)):
        return format_number(v)
    raise GrammarError(f"argument {name!r}: enum value {v!r} is not a string, number or boolean")


def _min_optional(tool: Mapping[str, Any], required: Sequence[str], optional: Sequence[str]) -> int:
    """How many optional arguments a call must carry: ``min_optional`` if given, else 1 when the only
    required argument is the device (``set_brightness(device)`` alone says nothing), else 0."""
    if "min_optional" in tool:
        return int(tool["min_optional"])
    return 1 if optional and set(required) <= {"device"} else 0


def _subsets(optional: Sequence[str], exclusive: Sequence[Sequence[str]], least: int) -> list[tuple[str, ...]]:
    out = []
    for n in range(len(optional) + 1):
        for subset in itertools.combinations(optional, n):
            if n >= least and all(len(set(subset) & set(group)) <= 1 for group in exclusive):
                out.append(subset)
    return out


def _sorted_keys(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda k: (k.lower(), k))  # jinja dictsort: case-insensitive


class _ToolCompiler:
    """One tool's argument part ``{...}<tool_call|>``, per device where the schema narrows by device."""

    def __init__(self, builder: Builder, name: str, tool: Mapping[str, Any], default_step: float) -> None:
        self.b = builder
        self.name = name
        self.args: dict[str, dict[str, Any]] = {k: dict(v) for k, v in tool.get("arguments", {}).items()}
        self.required = list(tool.get("required", []))
        missing = [r for r in self.required if r not in self.args]
        if missing:
            raise GrammarError(f"tool {name!r}: required argument(s) {', '.join(missing)} not declared")
        self.optional = [a for a in self.args if a not in self.required]
        self.subsets = _subsets(self.optional, tool.get("exclusive", []), _min_optional(tool, self.required, self.optional))
        self.per_device: Mapping[str, Mapping[str, Any]] = tool.get("per_device", {})
        self.default_step = default_step
        self._tail = builder.alt([("}" + CALL_END, builder.accept)])

    def body(self) -> Node | None:
        device = self.args.get("device")
        if device is None or "enum" not in device:
            return self._body(self.args)
        bodies = [self._body(self._narrowed(d)) for d in device["enum"]]
        found = [b for b in bodies if b is not None]
        if not found:
            return None
        out = found[0]
        for b in found[1:]:
            out = self.b.union(out, b)
        return out

    def _narrowed(self, device: str) -> dict[str, dict[str, Any]]:
        specs = {k: dict(v) for k, v in self.args.items()}
        specs["device"] = {"type": "string", "enum": [device]}
        for arg, narrower in self.per_device.get(device, {}).items():
            if arg in specs:
                if "enum" in narrower:
                    specs[arg].pop("minimum", None)
                    specs[arg].pop("maximum", None)
                specs[arg].update(narrower)
        return specs

    def _body(self, specs: Mapping[str, Mapping[str, Any]]) -> Node | None:
        values = {a: value_strings(f"{self.name}.{a}", s, self.default_step) for a, s in specs.items()}
        if any(not values[r] for r in self.required):
            return None
        options = [n for n in (self._chain(s, values) for s in self.subsets if all(values[a] for a in s)) if n]
        if not options:
            return None
        out = options[0]
        for n in options[1:]:
            out = self.b.union(out, n)
        return out

    def _chain(self, subset: tuple[str, ...], values: Mapping[str, list[str]]) -> Node:
        node = self._tail
        present = _sorted_keys([*self.required, *subset])
        if not present:  # no arguments: the template still writes the braces, ``call:end_conversation{}``
            return self.b.alt([("{", node)])
        for i in range(len(present) - 1, -1, -1):
            sep = "," if i else "{"
            node = self.b.alt((f"{sep}{present[i]}:{v}", node) for v in values[present[i]])
        return node


def compile_schema(schema: Mapping[str, Mapping[str, Any]], default_step: float = 0.5) -> Grammar:
    """The grammar of every valid call of every tool in ``schema``; ``default_step`` for numbers without one."""
    builder = Builder()
    pairs: list[tuple[str, Node]] = []
    names: list[str] = []
    for name in schema:
        if not name or any(c in name for c in "{}:,<> \n"):
            raise GrammarError(f"tool name {name!r} cannot appear in a call")
        body = _ToolCompiler(builder, name, schema[name], default_step).body()
        if body is not None:
            pairs.append((f"call:{name}", body))
            names.append(name)
    if not pairs:
        raise GrammarError("no tool in the schema can be called (every closed set is empty)")
    return Grammar(builder.alt(pairs), builder, names)


def from_symbols(text: str) -> str:
    for token, sym in SYMBOLS.items():
        text = text.replace(sym, token)
    return text


def call_text(name: str, arguments: Mapping[str, Any]) -> str:
    """The canonical text of one call after ``<|tool_call>``, as the grammar (and chat template) writes it."""
    body = ",".join(f"{k}:{_literal(k, arguments[k])}" for k in _sorted_keys(arguments))
    return from_symbols(f"call:{name}{{{body}}}{CALL_END}")
