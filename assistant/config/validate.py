"""What a loaded configuration needs from the machine: the checks ``config check`` prints and ``run`` requires.

``load_config`` checks types, choices and ranges. The checks here go further and touch the file
system: routing rules compile, tier URLs are http(s), the wake word exists, the state directory is
usable, every file the config names can be read; and they warn (never fail) about a world-writable
config file and secret files others can read. ``config check`` lists all of them; ``run`` calls
:func:`require_valid` before it loads anything, ``ask`` calls :func:`require_state_dirs`.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from assistant.config.loader import read_toml
from assistant.config.paths import graph_cache_dir, state_dir
from assistant.config.schema import WAKE_MODELS, Config, RouteRuleConfig
from assistant.errors import ConfigError

log = logging.getLogger("assistant.config")

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    """One problem: ``error`` stops ``run``; ``warning`` is only reported."""

    level: str
    key: str
    problem: str
    logged_at_run: bool = True  # False where the stage itself warns when it starts (Piper's espeak-ng fallback)

    def error(self, source: str) -> ConfigError:
        return ConfigError(source, self.key, self.problem)


def findings(config: Config) -> list[Finding]:
    """Every problem this configuration has on this machine, errors and warnings, grouped by kind."""
    found = _state(config) + _wakeword(config) + _files(config) + _tiers(config) + _permissions(config)
    return found


def require_valid(config: Config) -> None:
    """Raise the first error as a one-line ConfigError; log each warning once."""
    _raise_or_warn(config, findings(config))


def require_state_dirs(config: Config) -> None:
    """Only the state and graph cache directories (what ``ask`` writes to)."""
    _raise_or_warn(config, _state(config))


def _raise_or_warn(config: Config, found: list[Finding]) -> None:
    for finding in found:
        if finding.level == ERROR:
            raise finding.error(config.source)
    for finding in found:
        if finding.logged_at_run:
            log.warning("%s", finding.error(config.source))


def directory_problem(path: Path) -> str:
    """Why ``path`` cannot serve as a writable directory ('' if it can). Creates nothing that stays: a missing
    directory is judged by making (and removing) a scratch directory in its nearest existing parent."""
    probe = path
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{probe} is not a directory"
    try:
        if probe == path:
            with tempfile.NamedTemporaryFile(dir=path):
                pass
        else:
            os.rmdir(tempfile.mkdtemp(dir=probe, prefix=".assistant-check-"))
    except OSError as err:
        return f"{probe}: cannot write there ({err.strerror})"
    return ""


def readable_problem(path: Path) -> str:
    """Why ``path`` cannot be read as a file ('' if it can)."""
    if path.is_dir():
        return "is a directory, not a file"
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        return f"cannot read it ({err.strerror})"
    return ""


def _state(config: Config) -> list[Finding]:
    found = []
    key = "service.state_dir" if config.service.state_dir else "service.state_dir (default)"
    path = state_dir(config)
    problem = directory_problem(path)
    if problem:
        found.append(Finding(ERROR, key, f'= "{path}": not a usable state directory: {problem}'))
    if config.model.graph_cache_dir and config.model.optimize_graphs:
        cache = graph_cache_dir(config)
        problem = directory_problem(cache)
        if problem:
            found.append(Finding(ERROR, "model.graph_cache_dir", f'= "{cache}": not a usable directory: {problem}'))
    return found


def _wakeword(config: Config) -> list[Finding]:
    model = config.wakeword.model
    if model in WAKE_MODELS:
        return []
    if not (model.endswith((".tflite", ".onnx")) or "/" in model):
        return [Finding(ERROR, "wakeword.model", f'= "{model}": unknown wake word '
                        f"(bundled: {', '.join(WAKE_MODELS)}, or the path of a .tflite/.onnx model)")]
    path = Path(model).expanduser()
    if path.suffix not in (".tflite", ".onnx"):
        return [Finding(ERROR, "wakeword.model", f'= "{model}": an openWakeWord model must be a .tflite or .onnx file')]
    problem = "no such file" if not path.exists() else readable_problem(path)
    return [Finding(ERROR, "wakeword.model", f'= "{model}": {problem}')] if problem else []


def _named_files(config: Config) -> list[tuple[str, str, str]]:
    """``(key, value, level)`` of every file the configuration names and a run would open."""
    files: list[tuple[str, str, str]] = []
    if config.mqtt.enabled:
        files.append(("mqtt.overrides_file", config.mqtt.overrides_file, ERROR))
        if config.mqtt.tls:
            files += [(f"mqtt.{k}", getattr(config.mqtt, k), ERROR) for k in ("ca_file", "cert_file", "key_file")]
    if config.vad.engine == "silero":
        files.append(("vad.silero_model", config.vad.silero_model, ERROR))
    if config.tts.engine == "piper":
        level = WARNING if config.tts.fallback else ERROR  # with fallback, run speaks with espeak-ng instead
        files.append(("tts.piper_model", config.tts.piper_model or "", level))
        if config.tts.piper_model and Path(config.tts.piper_model).expanduser().is_file():
            files.append(("tts.piper_model", config.tts.piper_model + ".json", level))
    if config.tiers.privacy != "off":
        for i, tier in enumerate(config.tiers.remote):
            if tier.enabled and tier.url.startswith("https"):
                files.append((f"tiers.remote[{i}].ca_file", tier.ca_file, ERROR))
    return files


def _files(config: Config) -> list[Finding]:
    found = []
    for key, value, level in _named_files(config):
        if not value:
            if key == "tts.piper_model":
                found.append(Finding(level, key, 'is empty: tts.engine = "piper" needs a Piper .onnx voice',
                                     logged_at_run=level == ERROR))
            continue
        path = Path(value).expanduser()
        problem = "no such file" if not path.exists() else readable_problem(path)
        if problem:
            found.append(Finding(level, key, f'= "{value}": {problem}', logged_at_run=level == ERROR))
        elif key == "mqtt.overrides_file":
            try:
                read_toml(path, "overrides file")  # its entries are checked when the home loads it
            except ConfigError as err:
                found.append(Finding(ERROR, key, f'= "{value}": {err.problem}'))
    if config.model.dir and not Path(config.model.dir).expanduser().is_dir():
        found.append(Finding(ERROR, "model.dir", f'= "{config.model.dir}": no such directory '
                             "(run 'assistant models pull e2b --dir DIR', or fix the path)"))
    if config.model.backend == "llama.cpp" and config.model.gguf:
        path = Path(config.model.gguf).expanduser()
        problem = "no such file" if not path.exists() else readable_problem(path)
        if problem:
            found.append(Finding(ERROR, "model.gguf", f'= "{config.model.gguf}": {problem} '
                                 "(backend llama.cpp needs it; run 'assistant models pull', or fix the path)"))
    return found


def compile_rule(rule: RouteRuleConfig, index: int, tier_names: Sequence[str], source: str) -> re.Pattern[str]:
    """One routing rule's pattern, compiled (case-insensitive); a bad pattern or tier is a ConfigError.
    ``tiers.rules.compile_rules`` uses this, so ``config check`` and the router agree."""
    key = f"tiers.rules[{index}]"
    if not rule.pattern:
        raise ConfigError(source, f"{key}.pattern", "is empty")
    try:
        pattern = re.compile(rule.pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as err:
        raise ConfigError(source, f"{key}.pattern", f'= "{rule.pattern}": not a regular expression ({err})') from None
    allowed = ("local", "remote", *tier_names)
    if rule.tier not in allowed:
        raise ConfigError(source, f"{key}.tier", f'= "{rule.tier}": not allowed (allowed: {", ".join(allowed)})')
    return pattern


def _tiers(config: Config) -> list[Finding]:
    found = []
    names = [t.name for t in config.tiers.remote]
    for i, rule in enumerate(config.tiers.rules):
        try:
            compile_rule(rule, i, names, config.source)
        except ConfigError as err:
            found.append(Finding(ERROR, err.key, err.problem))
    for i, tier in enumerate(config.tiers.remote):
        parts = urlsplit(tier.url)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            found.append(Finding(ERROR, f"tiers.remote[{i}].url",
                                 f'= "{tier.url}": expected http://HOST[:PORT]/v1 or https://HOST[:PORT]/v1'))
    return found


def _permissions(config: Config) -> list[Finding]:
    """World-writable config file; secret files (passwords, keys) that group or others can read."""
    found = []
    if config.source and not config.source.startswith("("):
        mode = _mode(Path(config.source))
        if mode is not None and mode & stat.S_IWOTH:
            found.append(Finding(WARNING, "", f"anyone on this machine can change this file (mode {mode:o}); "
                                 f"run: chmod o-w {config.source}"))
    base = Path(config.source).parent if not config.source.startswith("(") else Path.cwd()
    secrets = [("mqtt.password_file", config.mqtt.password_file, base), ("mqtt.key_file", config.mqtt.key_file, None)]
    secrets += [(f"tiers.remote[{i}].api_key_file", t.api_key_file, base) for i, t in enumerate(config.tiers.remote)]
    for key, value, relative_to in secrets:
        if not value:
            continue
        path = Path(value).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path  # as the loader reads it (a $CREDENTIALS_DIRECTORY file is systemd's to guard)
        mode = _mode(path)
        if mode is not None and mode & (stat.S_IRGRP | stat.S_IROTH):
            who = "anyone on this machine" if mode & stat.S_IROTH else "its group"
            found.append(Finding(WARNING, key, f'= "{value}": {who} can read this secret (mode {mode:o}); '
                                 f"run: chmod go-r {path}"))
    return found


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
