"""``assistant devices``: list the audio inputs and outputs the assistant can use."""

from __future__ import annotations

import argparse
from typing import Any

from assistant.audio.devices import AudioDevice, list_audio_devices


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("devices", help="list audio inputs and outputs")
    parser.set_defaults(func=_audio)
    sub = parser.add_subparsers(dest="devices_command", metavar="KIND")
    audio = sub.add_parser("audio", help="audio inputs and outputs (the default)")
    audio.set_defaults(func=_audio)


def _audio(args: argparse.Namespace) -> int:
    devices = list_audio_devices()
    print(format_devices(devices))
    return 0


def format_devices(devices: list[AudioDevice]) -> str:
    if not devices:
        return "No audio devices found (is a microphone plugged in, and is the user in the 'audio' group?)"
    rows = ["kind    default  rate   ch_in ch_out  name"]
    for d in devices:
        kind = "in/out" if d.max_input_channels and d.max_output_channels else "in" if d.max_input_channels else "out"
        default = "*" if d.is_default_input or d.is_default_output else ""
        rows.append(
            f"{kind:<7} {default:^7}  {int(d.default_samplerate):<6} {d.max_input_channels:<5} "
            f"{d.max_output_channels:<6}  {d.name} ({d.hostapi})"
        )
    rows.append("Set audio.input_device / audio.output_device to a part of a name above.")
    return "\n".join(rows)
