"""Short tones the assistant plays itself (no speech heard after the wake word)."""

from __future__ import annotations

import numpy as np

from assistant.protocols import SAMPLE_RATE, AudioChunk


def tone(freq_hz: float = 440.0, ms: int = 150, level: float = 0.2, rate: int = SAMPLE_RATE) -> AudioChunk:
    """A sine tone with 10 ms fades, so it does not click."""
    n = int(rate * ms / 1000)
    t = np.arange(n) / rate
    wave = np.sin(2 * np.pi * freq_hz * t) * level
    fade = min(n // 2, int(rate * 0.01))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[n - fade:] *= ramp[::-1]
    return AudioChunk((wave * 32767).astype(np.int16), rate)


def no_speech_tone() -> list[AudioChunk]:
    """Two falling notes: "I heard the wake word but nothing after it"."""
    return [tone(660.0, 90), tone(440.0, 120)]
