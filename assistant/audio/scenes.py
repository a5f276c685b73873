"""Rooms for the evaluation set: synthetic reverberation and the noises of a home.

Noises (unit RMS, 16 kHz): ``white``, ``pink`` (1/f), ``babble`` (four to six other speakers
talking over each other), ``fan`` (low rumble, motor hum and the blades' beat) and ``music``
(chords, a bass line and a melody of harmonic tones with a beat). Reverberation: an impulse
response with the direct sound, a few early reflections and an exponentially decaying diffuse
tail for a given RT60 (the time the tail takes to fall by 60 dB).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.audio.clips import noise as basic_noise
from assistant.protocols import SAMPLE_RATE

NOISE_KINDS = ("white", "pink", "babble", "fan", "music")
SR = SAMPLE_RATE


def unit(x: np.ndarray) -> np.ndarray:
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def fan(length: int, rng: np.random.Generator) -> np.ndarray:
    """Low-pass rumble, hum at the motor's harmonics, and the blade-pass beat modulating it."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    f = np.fft.rfftfreq(length, 1 / SR)
    cutoff = rng.uniform(300, 900)
    rumble = np.fft.irfft(spectrum / (1 + (f / cutoff) ** 2), n=length)
    t = np.arange(length) / SR
    base = rng.choice([50.0, 60.0]) * rng.uniform(0.98, 1.02)
    hum = np.sum([np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 4)], axis=0)
    beat = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(8, 20) * t)
    return unit(unit(rumble) * beat + 0.35 * unit(hum))


def music(length: int, rng: np.random.Generator) -> np.ndarray:
    """Harmonic tones in chords, bass and melody, changing on the beat, with a low thump on each beat."""
    beat = int(SR * 60 / rng.uniform(90, 140))
    out = np.zeros(length)
    root = rng.uniform(110, 220)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    for start in range(0, length, beat):
        n = min(beat * 2, length - start)
        t = np.arange(n) / SR
        env = np.exp(-t * rng.uniform(2, 6)) * (1 - np.exp(-t * 200))
        degree = int(rng.integers(0, 5))
        notes = [root * 2 ** (scale[(degree + i) % 8] / 12) for i in (0, 2, 4)]
        notes += [root / 2 * 2 ** (scale[degree] / 12), root * 2 * 2 ** (scale[int(rng.integers(0, 8))] / 12)]
        tone = sum(sum(np.sin(2 * np.pi * f * h * t) / h**1.5 for h in (1, 2, 3, 4)) for f in notes)
        thump = np.sin(2 * np.pi * 55 * t) * np.exp(-t * 25) * 2
        out[start : start + n] += (tone + thump) * env
    return unit(out)


def babble(length: int, rng: np.random.Generator, talker: Callable[[int, np.random.Generator], np.ndarray]) -> np.ndarray:
    """Several talkers at once: ``talker(length, rng)`` gives one talker's speech of that length."""
    voices = int(rng.integers(4, 7))
    return unit(np.sum([unit(talker(length, rng).astype(np.float64)) * rng.uniform(0.6, 1.0) for _ in range(voices)], axis=0))


def make_noise(kind: str, length: int, rng: np.random.Generator,
               talker: Callable[[int, np.random.Generator], np.ndarray] | None = None) -> np.ndarray:
    if kind in ("white", "pink"):
        return basic_noise(kind, length, rng)
    if kind == "fan":
        return fan(length, rng)
    if kind == "music":
        return music(length, rng)
    if kind == "babble":
        if talker is None:
            raise ValueError("babble needs a talker")
        return babble(length, rng, talker)
    raise ValueError(f"unknown noise kind {kind!r}")


def impulse_response(rt60: float, rng: np.random.Generator, drr_db: float = 3.0) -> np.ndarray:
    """A synthetic room: direct sound at lag 0, early reflections, a diffuse tail decaying to -60 dB at ``rt60``.

    ``drr_db`` is the direct-to-reverberant energy ratio."""
    n = max(1, int(rt60 * SR))
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    onset = int(0.004 * SR)
    tail[:onset] = 0.0
    for _ in range(6):  # early reflections within 4-40 ms
        k = int(rng.uniform(0.004, 0.04) * SR)
        tail[k] += rng.choice([-1, 1]) * rng.uniform(2, 5) * np.exp(-6.9 * k / SR / rt60)
    tail *= 1.0 / np.sqrt(np.sum(tail**2) * 10 ** (drr_db / 10))
    tail[0] = 1.0
    return tail


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``x`` in the room, same length (the tail past the end is dropped), by FFT convolution."""
    size = 1 << int(np.ceil(np.log2(len(x) + len(rir))))
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[: len(x)]


def audible_end(direct: np.ndarray, noise_rms: float, frame: int = 160) -> int:
    """End (sample) of the last 10 ms frame whose RMS is above both 2 % of the loudest frame and the noise."""
    n = len(direct) // frame
    if n == 0:
        return 0
    rms = np.sqrt((direct[: n * frame].reshape(n, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > max(0.02 * rms.max(), noise_rms))
    return int((loud[-1] + 1) * frame) if len(loud) else 0


def audible_start(direct: np.ndarray, noise_rms: float, frame: int = 160) -> int:
    n = len(direct) // frame
    if n == 0:
        return 0
    rms = np.sqrt((direct[: n * frame].reshape(n, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > max(0.02 * rms.max(), noise_rms))
    return int(loud[0] * frame) if len(loud) else 0
