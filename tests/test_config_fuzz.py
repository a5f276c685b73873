"""Property-based tests of the config boundary: any TOML document, any value for a known key, any environment
override. Loading either succeeds or raises the one-line ``ConfigError``; what loads, ``config check``'s findings
accept without raising, and ``config show`` prints it back as a config that loads to the same thing."""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assistant.commands.config import to_toml
from assistant.config import Config, load_config
from assistant.config.validate import findings
from assistant.errors import ConfigError

# A few seconds in the suite; FUZZ_EXAMPLES=2000 for a longer hunt by hand.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

SECTIONS = {name: hint for name, hint in typing.get_type_hints(Config).items() if name != "source"}
KNOWN = {name: [f.name for f in dataclasses.fields(section())] for name, section in
         ((f.name, f.default_factory) for f in dataclasses.fields(Config) if f.name != "source")}  # type: ignore[misc]

# Every character, lone surrogates included only where a source can carry them (the environment).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
env_text = st.text(st.characters(), max_size=40) | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
                                                             min_size=1, max_size=3)
scalars = (
    st.booleans() | st.integers() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | text | st.sampled_from(["", "~", "~nosuchuser/x", "a\x00b", "/proc/x", "okay_nabu", "ftp://x", "(("])
    | st.datetimes() | st.dates() | st.times()
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                      max_leaves=8)
known_key = st.sampled_from(sorted(KNOWN)).flatmap(lambda s: st.tuples(st.just(s), st.sampled_from(KNOWN[s])))


def _typed(section: str, key: str) -> st.SearchStrategy[Any]:
    """Values of the key's own type (mostly in range), so most documents load and reach the later checks."""
    f = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == key)
    hint = typing.get_type_hints(SECTIONS[section])[key]
    choices, bounds = f.metadata.get("choices"), f.metadata.get("range")
    if choices:
        return st.sampled_from(choices) | values
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(int(bounds[0]), int(bounds[1])) if bounds else st.integers()
    if hint is float:
        return st.floats(bounds[0], bounds[1]) if bounds else st.floats()
    if hint is str:
        return text | st.sampled_from(["", "~", "~nosuchuser/x", "a\x00b", "/proc/x", "okay_nabu", "x.onnx", "/tmp"])
    return values


typed_entry = known_key.filter(lambda k: k[1] not in ("remote", "rules")).flatmap(
    lambda k: st.tuples(st.just(k), _typed(*k)))


def _key(name: str) -> str:
    return _string(name)


def _string(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A TOML inline literal for any value the strategies make (tomllib reads it back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


@pytest.fixture
def workdir(tmp_path, monkeypatch, clean_home):
    """A scratch cwd, so relative paths the fuzzer names stay under tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _load(path: Path, env: dict[str, str] | None = None) -> Config | None:
    """The config, or None after checking the error is the project's one line."""
    try:
        config = load_config(str(path), environ={"HOME": os.environ["HOME"], **(env or {})})
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message and "\r" not in message
        message.encode("utf-8")  # printable as is
        assert err.exit_code == 2
        event("ConfigError")
        return None
    event("loaded")
    for finding in findings(config):  # what config check and run add never raises either
        assert "\n" not in str(finding.error(config.source))
    return config


def _round_trips(config: Config, folder: Path) -> None:
    shown = folder / "shown.toml"
    shown.write_text(to_toml(config), encoding="utf-8")
    again = load_config(str(shown), environ={"HOME": os.environ["HOME"]})
    assert again == config or _nan_equal(again, config)


def _nan_equal(a: Any, b: Any) -> bool:
    if dataclasses.is_dataclass(a):
        return all(_nan_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a) if f.compare)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_nan_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@FUZZ
@given(document=st.binary(max_size=200) | text.map(lambda t: t.encode("utf-8")))
def test_any_bytes_load_or_fail_in_one_line(workdir, document):
    path = workdir / "config.toml"
    path.write_bytes(document)
    config = _load(path)
    if config is not None:
        _round_trips(config, workdir)


@FUZZ
@given(entries=st.lists(st.tuples(known_key, values) | typed_entry | typed_entry | typed_entry, max_size=6),
       unknown=st.dictionaries(text, values, max_size=2))
def test_any_value_for_known_keys_loads_or_fails_in_one_line(workdir, entries, unknown):
    tables: dict[str, dict[str, Any]] = {}
    for (section, key), value in entries:
        tables.setdefault(section, {})[key] = value
    lines = [f"{_key(k)} = {toml_value(v)}" for k, v in unknown.items()]
    for section, table in tables.items():
        lines.append(f"[{section}]")
        lines += [f"{_key(k)} = {toml_value(v)}" for k, v in table.items()]
    path = workdir / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = _load(path)
    if config is not None:
        _round_trips(config, workdir)


@FUZZ
@given(tiers=st.lists(st.fixed_dictionaries({}, optional={"name": text, "url": text | st.just("http://h:1/v1"),
                                                          "server": text, "timeout_s": scalars, "enabled": scalars}),
                      max_size=3),
       rules=st.lists(st.fixed_dictionaries({}, optional={"pattern": text, "tier": text}), max_size=3))
def test_any_tiers_and_rules_load_or_fail_in_one_line(workdir, tiers, rules):
    lines = []
    for name, items in (("tiers.remote", tiers), ("tiers.rules", rules)):
        for item in items:
            lines.append(f"[[{name}]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
    path = workdir / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = _load(path)
    if config is not None:
        _round_trips(config, workdir)


@FUZZ
@given(overrides=st.dictionaries(known_key.map(lambda k: f"ASSISTANT_{k[0].upper()}__{k[1].upper()}"), env_text,
                                 max_size=4))
def test_any_environment_override_loads_or_fails_in_one_line(workdir, overrides):
    path = workdir / "config.toml"
    path.write_text("", encoding="utf-8")
    _load(path, overrides)
