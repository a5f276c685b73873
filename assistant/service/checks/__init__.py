"""The checks ``assistant doctor`` runs, in order.

MERGE: the stages add their checks here: the wake word on a test clip (audio), model
verification by loading it (engine), discovered devices (MQTT). Each is a
``Check(name, fn, stage)`` with ``fn(config) -> Result``.
"""

from __future__ import annotations

from assistant.service.checks import audio, model, network, system
from assistant.service.doctor import Check


def default_checks() -> list[Check]:
    return [
        Check("cpu", system.cpu),
        Check("memory", system.memory),
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
