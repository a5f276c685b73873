"""Find, read and validate the configuration into frozen dataclasses.

Order: ``--config`` > ``$ASSISTANT_CONFIG`` > ``~/.config/assistant/config.toml`` >
``/etc/assistant/config.toml`` > built-in defaults. ``ASSISTANT_SECTION__KEY`` environment
variables override single keys. Every problem raises :class:`ConfigError` with one line.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.config.schema import Config
from assistant.errors import ConfigError

ENV_PREFIX = "ASSISTANT_"
# String fields that name a file or directory: checked at load so no later ``Path`` call can fail on them.
PATH_FIELDS = frozenset({"dir", "state_dir", "graph_cache_dir", "password_file", "api_key_file", "ca_file", "cert_file",
                         "key_file", "overrides_file", "piper_model", "silero_model"})
SEARCH_PATHS = (Path("~/.config/assistant/config.toml"), Path("/etc/assistant/config.toml"))


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read, or None for built-in defaults. An explicit path must exist."""
    chosen = explicit or environ.get("ASSISTANT_CONFIG")
    if chosen:
        try:
            path = Path(chosen).expanduser()
        except RuntimeError:  # ~name of an unknown user
            raise ConfigError(chosen, "", "config file not found (no such user's home directory)") from None
        if not path.is_file():
            raise ConfigError(str(path), "", "config file not found")
        return path
    for candidate in SEARCH_PATHS:
        path = candidate.expanduser()
        if path.is_file():
            return path
    return None


def load_config(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load, override from the environment, validate and resolve secrets."""
    env = os.environ if environ is None else environ
    path = find_config_file(explicit, env)
    raw: dict[str, Any] = {}
    source = "(built-in defaults)"
    if path is not None:
        source = str(path)
        raw = read_toml(path)
    overrides = env_overrides(env)
    config = _build(Config, raw, source, "", overrides)
    base_dir = path.parent if path is not None else Path.cwd()
    return dataclasses.replace(_with_secrets(config, source, base_dir, env), source=source)


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """A TOML file as a dict; unreadable, non-UTF-8, malformed or absurdly nested files are one ConfigError."""
    try:
        with path.open("rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ConfigError(str(path), "", f"cannot read {what} ({err.strerror})") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(str(path), "", f"not UTF-8 text (byte {err.start}); save the {what} as UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), "", f"invalid TOML ({err})") from None
    except RecursionError:
        raise ConfigError(str(path), "", "invalid TOML (nested too deeply)") from None


def env_overrides(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{"section.key": (variable, value)}`` from ``ASSISTANT_SECTION__KEY`` variables."""
    found: dict[str, tuple[str, str]] = {}
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX):].partition("__")
            found[f"{section.lower()}.{key.lower()}"] = (name, value)
    return found


def _build(cls: type, raw: Any, source: str, prefix: str, overrides: dict[str, tuple[str, str]]) -> Any:
    """Validate ``raw`` (a TOML table) into ``cls``, applying overrides below ``prefix``."""
    if not isinstance(raw, dict):
        raise ConfigError(source, prefix.rstrip("."), f"= {_show(raw)}: expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    hints = typing.get_type_hints(cls)
    settable = [n for n, f in fields.items() if not f.metadata.get("secret")]
    for key in raw:
        if key not in settable:
            raise ConfigError(source, prefix + key, f"unknown key (allowed: {', '.join(settable)})")
    if not prefix:
        for dotted, (var, _) in overrides.items():
            section, _, key = dotted.partition(".")
            sub = fields.get(section)
            if sub is None or not dataclasses.is_dataclass(hints[section]):
                raise ConfigError(f"environment {var}", dotted, f"unknown section (allowed: {', '.join(settable)})")
            sub_fields = [f.name for f in dataclasses.fields(hints[section]) if not f.metadata.get("secret")]
            if key not in sub_fields:
                raise ConfigError(f"environment {var}", dotted, f"unknown key (allowed: {', '.join(sub_fields)})")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if f.metadata.get("secret"):
            continue
        hint = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(hint):
            values[name] = _build(typing.cast(type, hint), raw.get(name, {}), source, key + ".", overrides)
        elif typing.get_origin(hint) is tuple:
            values[name] = _build_list(hint, raw.get(name, []), source, key, overrides)
        elif key in overrides:
            var, text = overrides[key]
            values[name] = _check(f, hint, _parse_env(text, hint, var, key), f"environment {var}", key)
        elif name in raw:
            values[name] = _check(f, hint, raw[name], source, key)
    return cls(**values)


def _build_list(hint: Any, raw: Any, source: str, key: str, overrides: dict[str, tuple[str, str]]) -> tuple[Any, ...]:
    if key in overrides:
        raise ConfigError(f"environment {overrides[key][0]}", key, "cannot be set from the environment; use the file")
    item_cls = typing.get_args(hint)[0]
    if not isinstance(raw, list):
        raise ConfigError(source, key, f"= {_show(raw)}: expected a list of tables ([[{key}]])")
    return tuple(_build(item_cls, item, source, f"{key}[{i}].", {}) for i, item in enumerate(raw))


def _parse_env(text: str, hint: Any, var: str, key: str) -> Any:
    source = f"environment {var}"
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(source, key, f"= {_show(text)}: expected true or false")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(source, key, f"= {_show(text)}: expected an integer") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(source, key, f"= {_show(text)}: expected a number") from None
    return text


def _check(f: dataclasses.Field[Any], hint: Any, value: Any, source: str, key: str) -> Any:
    """Type, choice and range checks for one scalar value."""
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[hint]
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(source, key, f"= {_show(value)}: expected {expected}")
    if isinstance(value, str) and not _is_text(value):
        raise ConfigError(source, key, f"= {_show(value)}: not valid Unicode text")
    if isinstance(value, str) and (f.name in PATH_FIELDS or key == "wakeword.model"):
        _check_path(value, source, key)
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(source, key, f"= {_show(value)}: not allowed (allowed: {', '.join(map(str, choices))})")
    bounds = f.metadata.get("range")
    if bounds and not bounds[0] <= value <= bounds[1]:
        lo, hi = (_num(b) for b in bounds)
        raise ConfigError(source, key, f"= {_show(value)}: out of range (allowed: {lo} to {hi})")
    return value


def _with_secrets(config: Any, source: str, base_dir: Path, env: Mapping[str, str], prefix: str = "") -> Any:
    """Fill every ``secret`` field from its ``*_file`` key or ``$CREDENTIALS_DIRECTORY``."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            changes[f.name] = _with_secrets(value, source, base_dir, env, f"{prefix}{f.name}.")
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            changes[f.name] = tuple(
                _with_secrets(v, source, base_dir, env, f"{prefix}{f.name}[{i}].") for i, v in enumerate(value)
            )
        elif f.metadata.get("secret"):
            file_key = f"{f.name}_file"
            secret = read_secret(getattr(config, file_key), f.metadata["secret"], source, prefix + file_key, base_dir, env)
            changes[f.name] = secret
    return dataclasses.replace(config, **changes) if changes else config


def read_secret(
    file_value: str, credential: str, source: str, key: str, base_dir: Path, env: Mapping[str, str]
) -> str:
    """Read a secret from its file (relative paths: credentials dir, then config dir), else the credential."""
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if file_value:
        path = Path(file_value).expanduser()
        if not path.is_absolute():
            path = Path(cred_dir) / path if cred_dir and (Path(cred_dir) / path).exists() else base_dir / path
    elif cred_dir and (Path(cred_dir) / credential).exists():
        path = Path(cred_dir) / credential
    else:
        return ""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(source, key, f"= {_show(str(path))}: cannot read secret file ({err.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(source, key, f"= {_show(str(path))}: secret file is not UTF-8 text") from None


def _check_path(value: str, source: str, key: str) -> None:
    if "\0" in value:
        raise ConfigError(source, key, f"= {_show(value)}: a path cannot contain a NUL character")
    try:
        Path(value).expanduser()
    except RuntimeError:  # ~name of an unknown user
        raise ConfigError(source, key, f"= {_show(value)}: no such user's home directory") from None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a non-UTF-8 environment variable
        return False
    return True


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value[:80]}..."' if len(value) > 80 else f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a table" if isinstance(value, dict) else "a list"
    return str(value)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
