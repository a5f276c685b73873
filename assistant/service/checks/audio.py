"""Audio checks through PortAudio: devices, a live microphone level, a tone on the speaker."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from assistant.audio.devices import AudioDevice, import_sounddevice, list_audio_devices
from assistant.config import Config
from assistant.protocols import SAMPLE_RATE
from assistant.service.doctor import Result
from assistant.service.tones import tone

LISTEN_S = 1.0
SILENT_DBFS, CLIPPING_PEAK = -70.0, 32000
NO_DEVICE_FIX = ("plug in a USB microphone and a speaker; 'arecord -l' lists capture cards; "
                 "the service user needs the 'audio' group")


def pick(devices: list[AudioDevice], wanted: str, inputs: bool) -> AudioDevice | None:
    """The configured device (a part of its name), else the default one, else the first usable one."""
    usable = [d for d in devices if (d.max_input_channels if inputs else d.max_output_channels) > 0]
    if wanted:
        return next((d for d in usable if wanted.lower() in d.name.lower()), None)
    default = [d for d in usable if (d.is_default_input if inputs else d.is_default_output)]
    choices = default or usable
    return choices[0] if choices else None


def devices(config: Config) -> Result:
    found = list_audio_devices()
    mic = pick(found, config.audio.input_device, True)
    speaker = pick(found, config.audio.output_device, False)
    problems = []
    if mic is None:
        problems.append(f"no microphone{_named(config.audio.input_device)}")
    if speaker is None:
        problems.append(f"no speaker{_named(config.audio.output_device)}")
    if problems:
        named = config.audio.input_device or config.audio.output_device
        fix = ("run 'assistant devices' and set audio.input_device / audio.output_device to a part of a name"
               if named and found else NO_DEVICE_FIX)
        return Result.fail(", ".join(problems) + f" ({len(found)} devices found)", fix)
    assert mic is not None and speaker is not None
    return Result.ok(f"microphone: {mic.name}; speaker: {speaker.name}")


def _named(name: str) -> str:
    return f" matching '{name}'" if name else ""


def dbfs(samples: np.ndarray) -> float:
    rms = math.sqrt(float(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def microphone(config: Config) -> Result:
    """Record a second and report its level: proves the microphone delivers sound, not just opens."""
    mic = pick(list_audio_devices(), config.audio.input_device, True)
    if mic is None:
        return Result.fail("no microphone to listen to", NO_DEVICE_FIX)
    sd = import_sounddevice()
    try:
        data = _record(sd, mic)
    except Exception as err:
        return Result.fail(f"cannot record from {mic.name}: {err}".splitlines()[0],
                           "is another program using it? try 'arecord -D plughw:CARD=... -d 1 /dev/null'")
    level, peak = dbfs(data), int(np.abs(data.astype(np.int32)).max()) if len(data) else 0
    detail = f"{mic.name}: level {level:.0f} dBFS, peak {peak}"
    if level < SILENT_DBFS:
        return Result.warn(detail + " (silent)", "the microphone may be muted: check 'alsamixer' (F4 for capture)")
    if peak >= CLIPPING_PEAK:
        return Result.warn(detail + " (clipping)", "lower the capture gain in 'alsamixer'")
    return Result.ok(detail)


def speaker(config: Config) -> Result:
    """Play a short quiet tone: proves the output opens and takes audio (listen for it)."""
    out = pick(list_audio_devices(), config.audio.output_device, False)
    if out is None:
        return Result.fail("no speaker to play on", NO_DEVICE_FIX)
    sd = import_sounddevice()
    try:
        _play(sd, out)
    except Exception as err:
        return Result.fail(f"cannot play on {out.name}: {err}".splitlines()[0],
                           "check 'aplay -l' and 'speaker-test -c 2'; set audio.output_device")
    return Result.ok(f"played a short tone on {out.name} (did you hear it?)")


def _rates(device: AudioDevice) -> list[int]:
    """16 kHz first; the device's own rate when it cannot do 16 kHz (raw ``hw:`` devices)."""
    own = int(device.default_samplerate)
    return [SAMPLE_RATE] + ([own] if own and own != SAMPLE_RATE else [])


def _record(sd: Any, device: AudioDevice) -> np.ndarray:
    for i, rate in enumerate(_rates(device)):
        try:
            data = sd.rec(int(LISTEN_S * rate), samplerate=rate, channels=1, dtype="int16", device=device.index, blocking=True)
            return np.asarray(data)[:, 0]
        except sd.PortAudioError:
            if i == len(_rates(device)) - 1:
                raise
    raise AssertionError("unreachable")


def _play(sd: Any, device: AudioDevice) -> None:
    for i, rate in enumerate(_rates(device)):
        chunk = tone(660.0, 300, level=0.05, rate=rate)
        try:
            sd.play(chunk.samples, samplerate=rate, device=device.index, blocking=True)
            return
        except sd.PortAudioError:
            if i == len(_rates(device)) - 1:
                raise
