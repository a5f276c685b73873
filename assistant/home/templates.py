"""A small, safe subset of Home Assistant's Jinja templates.

Discovery payloads carry ``command_template`` / ``value_template`` strings. We render only
what is plainly data shaping: the variables the caller provides (``value``, ``value_json``,
``position``, ``action``...), attribute and item access, literals, comparisons, ``x if c else y``,
string concatenation and a few filters. Anything else (calls, HA helpers such as ``states()``,
loops, assignments, unknown names) makes :func:`compile_template` raise
:class:`UnsupportedTemplate`, and the caller refuses the entity rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from assistant.home.model import Unsupported, parse_json

SAFE_FILTERS = frozenset({"int", "float", "round", "string", "lower", "upper", "trim", "default", "tojson", "abs", "replace"})
_SAFE_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr, nodes.Getitem,
    nodes.Filter, nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Concat,
    nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Neg, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair,
    nodes.If,
)
MAX_TEMPLATE = 2048  # characters of one template
MAX_REPEAT = 4096  # longest string or list ``*`` may make while rendering


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with ``"x" * n`` bounded (a discovered template must not allocate gigabytes)."""

    intercepted_binops = frozenset(["*"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * max(n, 0) > MAX_REPEAT:
                    raise ValueError(f"template repeats a value more than {MAX_REPEAT} characters long")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(autoescape=False, keep_trailing_newline=False)


class UnsupportedTemplate(Unsupported):
    """The template uses something outside the safe subset."""


Renderer = Callable[..., str]


def compile_template(source: str, variables: Iterable[str]) -> Renderer:
    """Check ``source`` against the safe subset and return ``render(**variables) -> str``."""
    allowed = set(variables)
    if len(source) > MAX_TEMPLATE:
        raise UnsupportedTemplate(f"template longer than {MAX_TEMPLATE} characters")
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as err:
        raise UnsupportedTemplate(f"template does not parse ({str(err.message)[:80]})") from None
    except RecursionError:
        raise UnsupportedTemplate("template nests too deeply") from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _SAFE_NODES):
            raise UnsupportedTemplate(f"template uses {type(node).__name__.lower()}, outside the safe subset")
        if isinstance(node, nodes.Name) and (node.ctx != "load" or node.name not in allowed):
            raise UnsupportedTemplate(f"template uses '{node.name}', only {', '.join(sorted(allowed))} are supported")
        if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
            raise UnsupportedTemplate(f"template uses filter '{node.name}', outside the safe subset")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise UnsupportedTemplate("template reads a private attribute")
    template = _ENV.from_string(tree)

    def render(**values: Any) -> str:
        return str(template.render(**values)).strip()

    return render


def value_renderer(source: str | None) -> Callable[[str], str | None]:
    """``payload -> rendered value`` for a ``*_value_template`` (``value``, ``value_json``); None on failure."""
    if not source:
        return lambda payload: payload
    render = compile_template(source, ("value", "value_json"))

    def extract(payload: str) -> str | None:
        try:
            return render(value=payload, value_json=parse_json(payload))
        except Exception:  # a template error on one payload must never stop the network thread
            return None

    return extract
