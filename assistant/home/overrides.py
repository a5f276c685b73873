"""The optional overrides file: per-device name, aliases, area, hide and sensitive, keyed by stable id.

```toml
["zigbee2mqtt:0x00158d0001a2b3c4"]
name = "reading lamp"
aliases = ["the big lamp"]
area = "Living Room"
hide = false
sensitive = true
```
Stable ids are shown by ``assistant devices mqtt``; a table may also be keyed by the short id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config.loader import read_toml
from assistant.errors import ConfigError
from assistant.home.limits import MAX_ALIASES, MAX_NAME

FIELDS: dict[str, type] = {"name": str, "aliases": list, "area": str, "hide": bool, "sensitive": bool}


@dataclass(frozen=True)
class Override:
    name: str | None = None
    aliases: tuple[str, ...] = ()
    area: str | None = None
    hide: bool | None = None
    sensitive: bool | None = None


def load_overrides(path: str) -> dict[str, Override]:
    """Read and validate the file; every problem is one ConfigError line naming the key."""
    if not path:
        return {}
    file = Path(path).expanduser()
    raw = read_toml(file, "overrides file")
    return {key: _one(str(file), key, table) for key, table in raw.items()}


def _one(source: str, key: str, table: Any) -> Override:
    if not isinstance(table, dict):
        raise ConfigError(source, key, "expected a table of name, aliases, area, hide, sensitive")
    values: dict[str, Any] = {}
    for name, value in table.items():
        expected = FIELDS.get(name)
        if expected is None:
            raise ConfigError(source, f"{key}.{name}", f"unknown key (allowed: {', '.join(FIELDS)})")
        if isinstance(value, list) and expected is list and all(isinstance(a, str) for a in value):
            if len(value) > MAX_ALIASES or any(len(a) > MAX_NAME for a in value):
                raise ConfigError(source, f"{key}.{name}", f"at most {MAX_ALIASES} aliases of {MAX_NAME} characters")
            values[name] = tuple(value)
        elif isinstance(value, str) and expected is str and len(value) > MAX_NAME:
            raise ConfigError(source, f"{key}.{name}", f"longer than {MAX_NAME} characters")
        elif isinstance(value, expected) and expected is not list:
            values[name] = value
        else:
            what = {str: "a string", list: "a list of strings", bool: "true or false"}[expected]
            raise ConfigError(source, f"{key}.{name}", f"expected {what}")
    return Override(**values)
