"""Labelled speech clips for tests, benchmarks and tuning: real speech at a known place.

Speech comes from espeak-ng (several voices) or from recorded files; it is placed in
silence of known length and mixed with noise at a known signal-to-noise ratio, so the true
start and end of speech are known to the millisecond.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.wavfile import load_wav_16k
from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE, Samples

ALSA_SAMPLES = Path("/usr/share/sounds/alsa")
VOICES = ("en-us", "en-gb", "en+f3", "en-us+m3", "en-gb-x-rp")


@dataclass(frozen=True)
class Clip:
    samples: Samples
    speech_start_s: float
    speech_end_s: float
    label: str = ""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def espeak(text: str, voice: str = "en-us", wpm: int = 160) -> Samples:
    """``text`` spoken by espeak-ng, as 16 kHz mono int16."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise AssistantError("espeak-ng not found: install it with 'sudo apt install espeak-ng'")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        result = subprocess.run(
            [exe, "-v", voice, "-s", str(wpm), "-w", str(out), "--stdin"],
            input=text, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0 or not out.exists():
            raise AssistantError(f"espeak-ng failed for voice {voice!r}: {result.stderr.strip() or result.returncode}")
        return load_wav_16k(out)


def speech_bounds(clean: Samples, frame: int = 160, floor: float = 0.02) -> tuple[int, int]:
    """First and last sample of the 10 ms frames whose RMS exceeds ``floor`` of the loudest frame."""
    n = len(clean) // frame
    rms = np.sqrt((clean[: n * frame].astype(np.float64).reshape(n, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > floor * rms.max())
    if not len(loud):
        return 0, 0
    return int(loud[0] * frame), int((loud[-1] + 1) * frame)


def noise(kind: str, length: int, rng: np.random.Generator) -> np.ndarray:
    """Noise of unit RMS: 'white', 'pink' (1/f), or 'alsa' (the recorded Noise.wav, looped)."""
    if kind == "white":
        x = rng.standard_normal(length)
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.standard_normal(length))
        f = np.arange(len(spectrum), dtype=np.float64)
        f[0] = 1.0
        x = np.fft.irfft(spectrum / np.sqrt(f), n=length)
    elif kind == "alsa":
        rec = load_wav_16k(ALSA_SAMPLES / "Noise.wav").astype(np.float64)
        start = int(rng.integers(0, len(rec)))
        x = np.resize(np.roll(rec, -start), length)
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def place(
    speech: Samples,
    *,
    lead_s: float = 1.0,
    trail_s: float = 1.5,
    snr_db: float | None = 20.0,
    noise_kind: str = "white",
    seed: int = 0,
    label: str = "",
) -> Clip:
    """Speech with ``lead_s``/``trail_s`` of silence around it and noise at ``snr_db`` (None: no noise)."""
    first, last = speech_bounds(speech)
    body = speech[first:last].astype(np.float64)
    lead, trail = int(lead_s * SAMPLE_RATE), int(trail_s * SAMPLE_RATE)
    signal = np.concatenate([np.zeros(lead), body, np.zeros(trail)])
    if snr_db is not None:
        rng = np.random.default_rng(seed)
        speech_rms = np.sqrt(np.mean(body**2))
        signal += noise(noise_kind, len(signal), rng) * speech_rms / 10 ** (snr_db / 20)
    samples = np.clip(np.rint(signal), -32768, 32767).astype(np.int16)
    return Clip(samples, lead / SAMPLE_RATE, (lead + len(body)) / SAMPLE_RATE, label)


def spoken_clip(text: str, voice: str = "en-us", **kwargs: float | str | int | None) -> Clip:
    """espeak-ng speech of ``text`` placed by :func:`place` (same keyword arguments)."""
    label = f"{voice}: {text[:40]}"
    return place(espeak(text, voice), label=label, **kwargs)  # type: ignore[arg-type]


def alsa_speech() -> list[tuple[str, Samples]]:
    """The recorded human speech in alsa-utils' sample files ("Front Center", ...), 16 kHz."""
    files = sorted(p for p in ALSA_SAMPLES.glob("*.wav") if p.stem != "Noise")
    return [(p.stem, load_wav_16k(p)) for p in files]
