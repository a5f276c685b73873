"""The safe template subset: data shaping renders, anything else is refused."""

from __future__ import annotations

import pytest

from assistant.home.templates import UnsupportedTemplate, compile_template, value_renderer


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("{{ value_json.state }}", {"value_json": {"state": "ON"}}, "ON"),
        ("{{ value_json['temperature'] | round(1) }}", {"value_json": {"temperature": 21.456}}, "21.5"),
        ("{{ 'on' if value_json.output else 'off' }}", {"value_json": {"output": True}}, "on"),
        ('{"position": {{ position }}}', {"position": 40}, '{"position": 40}'),
        ("{{ value | int }}", {"value": "7"}, "7"),
        ("{{ (value | float) * 2 }}", {"value": "2.5"}, "5.0"),
    ],
)
def test_safe_templates_render(source, values, expected):
    assert compile_template(source, values).__call__(**values) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ states('sun.sun') }}",  # HA helper call
        "{{ now() }}",
        "{% for x in value_json %}{{ x }}{% endfor %}",
        "{% set x = 1 %}{{ x }}",
        "{{ value.__class__ }}",
        "{{ entity_id }}",  # a variable we do not provide
        "{{ value | some_unknown_filter }}",
        "{{ value ",  # does not parse
    ],
)
def test_anything_else_is_unsupported(source):
    with pytest.raises(UnsupportedTemplate):
        compile_template(source, ("value", "value_json"))


def test_value_renderer_returns_none_on_a_bad_payload_and_passes_through_without_template():
    extract = value_renderer("{{ value_json.a.b }}")
    assert extract("not json") is None
    assert extract('{"a": {"b": 3}}') == "3"
    assert value_renderer(None)("raw") == "raw"
