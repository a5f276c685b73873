"""Audio device discovery through sounddevice/PortAudio."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from assistant.errors import AssistantError


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


def import_sounddevice() -> ModuleType:
    """sounddevice, or a one-line error saying how to install PortAudio."""
    try:
        import sounddevice
    except OSError:
        raise AssistantError(
            "PortAudio library not found: install it with 'sudo apt install libportaudio2'"
        ) from None
    return sounddevice


def list_audio_devices() -> list[AudioDevice]:
    sd = import_sounddevice()
    hostapis = [h["name"] for h in sd.query_hostapis()]
    default_in, default_out = sd.default.device
    found = []
    for index, info in enumerate(sd.query_devices()):
        found.append(
            AudioDevice(
                index=index,
                name=str(info["name"]),
                hostapi=hostapis[int(info["hostapi"])],
                max_input_channels=int(info["max_input_channels"]),
                max_output_channels=int(info["max_output_channels"]),
                default_samplerate=float(info["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
            )
        )
    return found


def find_device(name: str, kind: str) -> int | None:
    """Index of the first ``kind`` ('input' or 'output') device whose name contains ``name``.

    The match ignores case; '' means the system default (None). A name that matches nothing
    raises a one-line error listing the devices there are.
    """
    if not name:
        return None
    devices = [
        d for d in list_audio_devices() if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0
    ]
    wanted = name.casefold()
    exact = [d for d in devices if d.name.casefold() == wanted]
    found = exact or [d for d in devices if wanted in d.name.casefold()]
    if not found:
        names = ", ".join(repr(d.name) for d in devices) or "none"
        raise AssistantError(f"no audio {kind} device matching {name!r} (there are: {names})")
    return found[0].index
