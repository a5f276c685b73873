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
