"""The checks ``assistant doctor`` runs, in order, including those the stages provide.

A stage adds checks without importing the service: a module ``assistant.<stage>.doctor``
with ``doctor_checks() -> list[tuple[name, fn]]``, where ``fn(config)`` returns
``(status, detail, fix)`` with status ``"ok" | "warn" | "fail" | "skip"``. Planned there:
the wake word on a test clip (audio), loading and verifying the model (engine), the devices
discovered on the broker (home). They run after the built-in checks of the same stage.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from assistant.config import Config
from assistant.service import native
from assistant.service.checks import audio, model, network, system
from assistant.service.doctor import FAIL, OK, SKIP, WARN, Check, Result

log = logging.getLogger("assistant.doctor")

PLUGIN_MODULES = (
    ("audio", "assistant.audio.doctor"),
    ("engine", "assistant.engine.doctor"),
    ("mqtt", "assistant.home.doctor"),
    ("tiers", "assistant.tiers.doctor"),
    ("clock", "assistant.clock.doctor"),
)


def builtin_checks() -> list[Check]:
    return [
        Check("cpu", system.cpu),
        Check("native libraries", native.doctor_check),
        Check("memory", system.memory),
        Check("hardware profile", system.hardware_profile),
        Check("disk", system.disk),
        Check("state dir", system.state_directory),
        Check("service", system.service_unit),
        Check("audio devices", audio.devices, "audio"),
        Check("microphone", audio.microphone, "audio"),
        Check("speaker", audio.speaker, "audio"),
        Check("model files", model.model_files, "engine"),
        Check("broker", network.broker, "mqtt"),
        Check("remote tiers", network.remote_tiers, "tiers"),
    ]


def plugin_checks(modules: Sequence[tuple[str, str]] = PLUGIN_MODULES) -> list[Check]:
    """Checks from each stage's ``doctor`` module that exists; a broken module becomes a failing check."""
    found: list[Check] = []
    for stage, name in modules:
        try:
            module = importlib.import_module(name)
            entries = list(module.doctor_checks())
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):
                continue
            found.append(_broken(stage, name, err))
            continue
        except Exception as err:
            found.append(_broken(stage, name, err))
            continue
        found.extend(Check(str(check_name), _adapt(fn), stage) for check_name, fn in entries)
    return found


def default_checks() -> list[Check]:
    """Built-in checks, each stage's plug-in checks right after that stage's built-in ones."""
    checks = builtin_checks()
    for plugin in plugin_checks():
        last = max((i for i, c in enumerate(checks) if c.stage == plugin.stage), default=len(checks) - 1)
        checks.insert(last + 1, plugin)
    return checks


def _adapt(fn: Callable[[Config], Any]) -> Callable[[Config], Result]:
    def run(config: Config) -> Result:
        status, detail, fix = fn(config)
        if status not in (OK, WARN, FAIL, SKIP):
            raise ValueError(f"unknown status {status!r}")
        return Result(status, str(detail), str(fix or ""))

    return run


def _broken(stage: str, name: str, err: Exception) -> Check:
    message = f"{name} could not be loaded: {type(err).__name__}: {err}".splitlines()[0]
    return Check(f"{stage} checks", lambda config: Result.fail(message, "please report this"), stage)
