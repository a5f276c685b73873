"""Synthetic speakers for the evaluation set: espeak-ng voices, accents and variants, and flite voices,
each at its own rate and pitch.

None of them is the plain voice list the tests use (``assistant.audio.clips.VOICES`` at 160 wpm),
so the evaluation measures speakers the tuning never saw. Two synthesisers with different
engines (espeak-ng's formant synthesis, flite's diphone and clustergen voices) keep one
engine's sound from passing for "speech".
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.clips import VOICES, speech_bounds
from assistant.audio.wavfile import load_wav_16k
from assistant.errors import AssistantError
from assistant.protocols import Samples

ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-x-rp", "en-029", "en-us-nyc")
ESPEAK_VARIANTS = ("m1", "m2", "m4", "m5", "m6", "m7", "f1", "f2", "f5", "klatt", "klatt3", "Annie", "Andy", "Denis",
                   "linda", "max", "paul", "anika", "edward", "iven2")
FLITE_VOICES = ("kal16", "awb", "rms", "slt")
TEST_VOICES = {*VOICES, "en+f4"}  # what the tests use: never in the evaluation


@dataclass(frozen=True)
class Speaker:
    engine: str  # "espeak" or "flite"
    voice: str
    rate: float  # espeak: words per minute; flite: duration stretch (1 = normal)
    pitch: int  # espeak: 0-99 (50 = normal); flite: mean F0 in Hz (0 = the voice's own)

    @property
    def name(self) -> str:
        if self.engine == "espeak":
            return f"espeak:{self.voice}@{self.rate:.0f}wpm,p{self.pitch}"
        return f"flite:{self.voice}@x{self.rate:.2f}" + (f",{self.pitch}Hz" if self.pitch else "")


def available_engines() -> list[str]:
    return [e for e, exe in (("espeak", "espeak-ng"), ("flite", "flite")) if shutil.which(exe)]


def pick_speakers(count: int, rng: np.random.Generator) -> list[Speaker]:
    """``count`` different speakers, about one in four from flite when it is installed."""
    engines = available_engines()
    if "espeak" not in engines:
        raise AssistantError("espeak-ng not found: install it with 'sudo apt install espeak-ng'")
    speakers: list[Speaker] = []
    seen: set[str] = set()
    while len(speakers) < count:
        if "flite" in engines and len(speakers) % 4 == 3:
            voice = FLITE_VOICES[(len(speakers) // 4) % len(FLITE_VOICES)]
            pitch = int(rng.choice([0, 0, 95, 120, 180, 220])) if voice != "slt" else int(rng.choice([0, 170, 230]))
            speaker = Speaker("flite", voice, round(float(rng.uniform(0.85, 1.25)), 2), pitch)
        else:
            voice = f"{rng.choice(ESPEAK_ACCENTS)}+{rng.choice(ESPEAK_VARIANTS)}"
            speaker = Speaker("espeak", voice, float(rng.integers(125, 196)), int(rng.integers(25, 76)))
        if speaker.voice in TEST_VOICES or speaker.name in seen:
            continue
        seen.add(speaker.name)
        speakers.append(speaker)
    return speakers


def say(speaker: Speaker, text: str) -> Samples:
    """``text`` spoken by ``speaker``, trimmed to the speech, as 16 kHz mono int16."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        if speaker.engine == "espeak":
            cmd = ["espeak-ng", "-v", speaker.voice, "-s", str(int(speaker.rate)), "-p", str(speaker.pitch),
                   "-w", str(out), "--stdin"]
        else:
            cmd = ["flite", "-voice", speaker.voice, "--setf", f"duration_stretch={speaker.rate}", "-o", str(out)]
            if speaker.pitch:
                cmd += ["--setf", f"int_f0_target_mean={speaker.pitch}"]
            cmd += ["-f", "/dev/stdin"]
        result = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0 or not out.exists():
            raise AssistantError(f"{speaker.name} failed: {result.stderr.strip()[:200] or result.returncode}")
        samples = load_wav_16k(out)
    first, last = speech_bounds(samples)
    return samples[first:last]
