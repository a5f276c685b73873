"""Hardware profiles (``hardware/*.toml``): threads, precisions, and which models run where.

A profile says which Gemma 4 model the assistant runs on this machine's CPU (``engine``),
which larger tiers this machine can serve itself (``tiers.local``) and which it should reach
over the network (``tiers.remote``). :func:`recommend` picks one for a :class:`Machine`.
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.config.schema import PRECISIONS
from assistant.errors import AssistantError, ConfigError
from assistant.hardware.detect import Machine

PROFILE_DIR = Path(__file__).resolve().parent.parent.parent / "hardware"
MODELS = ("e2b", "e4b", "26b-a4b", "31b")
BOARDS = ("pi5", "pi4", "x86", "arm64")


@dataclass(frozen=True)
class Profile:
    """One validated profile file."""

    name: str
    description: str
    board: str
    ram_gb: tuple[float, float]
    vram_gb: tuple[float, float]
    engine_model: str
    threads: int
    decoder_precision: str
    embed_precision: str
    audio_precision: str
    model_disk_gb: float
    local_tiers: tuple[str, ...]
    remote_tiers: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    path: str = ""

    def matches(self, machine: Machine) -> bool:
        board = "x86" if machine.board == "x86" else machine.board
        return (board == self.board and self.ram_gb[0] <= machine.nominal_ram_gb < self.ram_gb[1]
                and self.vram_gb[0] <= machine.vram_gb < self.vram_gb[1])

    def threads_for(self, machine: Machine) -> int:
        """Threads for ONNX Runtime: the profile's number, or (0) the cores up to 8."""
        return self.threads or max(1, min(machine.cores, 8))


def profile_dir() -> Path:
    """Where the profiles live: ``$ASSISTANT_HARDWARE_DIR``, else the source tree's ``hardware/``,
    else ``<prefix>/share/assistant/hardware`` where a wheel install puts them."""
    if os.environ.get("ASSISTANT_HARDWARE_DIR"):
        return Path(os.environ["ASSISTANT_HARDWARE_DIR"])
    if PROFILE_DIR.is_dir():
        return PROFILE_DIR
    return Path(sys.prefix) / "share" / "assistant" / "hardware"


def load_profiles(directory: Path | None = None) -> list[Profile]:
    """Every profile, sorted by name; a broken file is a one-line ConfigError."""
    where = directory or profile_dir()
    files = sorted(where.glob("*.toml"))
    if not files:
        raise AssistantError(f"no hardware profiles found in {where}")
    return [load_profile_file(path) for path in files]


def load_profile(name: str, directory: Path | None = None) -> Profile:
    """The profile called ``name``."""
    profiles = {p.name: p for p in load_profiles(directory)}
    if name not in profiles:
        raise AssistantError(f"unknown hardware profile {name!r} (known: {', '.join(sorted(profiles))})")
    return profiles[name]


def recommend(machine: Machine, profiles: list[Profile] | None = None) -> Profile | None:
    """The profile for ``machine``, or None when none fits (e.g. an old Pi)."""
    candidates = profiles if profiles is not None else load_profiles()
    return next((p for p in candidates if p.matches(machine)), None)


def resolve(setting: str, machine: Machine, directory: Path | None = None) -> Profile:
    """``service.hardware_profile``: a name, or ``auto`` for the recommendation."""
    if setting != "auto":
        return load_profile(setting, directory)
    found = recommend(machine, load_profiles(directory))
    if found is None:
        raise AssistantError(f"no hardware profile fits this machine ({machine.model}); set service.hardware_profile")
    return found


def load_profile_file(path: Path) -> Profile:
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(source, "", f"cannot read profile ({err})") from None
    match = _table(raw, "match", source)
    engine = _table(raw, "engine", source)
    tiers = _table(raw, "tiers", source)
    profile = Profile(
        name=_str(raw, "name", source),
        description=_str(raw, "description", source),
        board=_choice(match, "board", BOARDS, source, "match."),
        ram_gb=_range(match, "ram_gb", source),
        vram_gb=_range(match, "vram_gb", source) if "vram_gb" in match else (0.0, float("inf")),
        engine_model=_choice(engine, "model", MODELS, source, "engine."),
        threads=_int(engine, "threads", source),
        decoder_precision=_choice(engine, "decoder_precision", PRECISIONS, source, "engine."),
        embed_precision=_choice(engine, "embed_precision", PRECISIONS, source, "engine."),
        audio_precision=_choice(engine, "audio_precision", PRECISIONS, source, "engine."),
        model_disk_gb=float(_num(engine, "model_disk_gb", source)),
        local_tiers=_models(tiers, "local", source),
        remote_tiers=_models(tiers, "remote", source),
        notes=tuple(str(n) for n in raw.get("notes", [])),
        path=source,
    )
    if profile.name != path.stem:
        raise ConfigError(source, "name", f'= "{profile.name}": must match the file name ({path.stem})')
    return profile


def _table(raw: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ConfigError(source, key, "missing table")
    return value


def _str(raw: dict[str, Any], key: str, source: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(source, key, "expected a non-empty string")
    return value


def _int(raw: dict[str, Any], key: str, source: str) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(source, key, "expected a whole number >= 0")
    return value


def _num(raw: dict[str, Any], key: str, source: str) -> float:
    value = raw.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ConfigError(source, key, "expected a number >= 0")
    return float(value)


def _choice(raw: dict[str, Any], key: str, allowed: tuple[str, ...], source: str, prefix: str) -> str:
    value = raw.get(key)
    if value not in allowed:
        raise ConfigError(source, prefix + key, f"= {value!r}: not allowed (allowed: {', '.join(allowed)})")
    return str(value)


def _range(raw: dict[str, Any], key: str, source: str) -> tuple[float, float]:
    value = raw.get(key)
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) or value[0] >= value[1]):
        raise ConfigError(source, f"match.{key}", "expected [low, high) as two increasing numbers")
    return float(value[0]), float(value[1])


def _models(raw: dict[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or any(v not in MODELS for v in value):
        raise ConfigError(source, f"tiers.{key}", f"expected a list of: {', '.join(MODELS)}")
    return tuple(value)
