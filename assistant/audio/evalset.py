"""The speaker-independent evaluation set for the ear (wake word, hand-over, endpointing), made on the spot.

Nothing is committed: :func:`build` generates it into a cache folder (WAV files and a
``labels.json``) and :func:`load` reads it back. It holds
- *wake samples*, per bundled wake word: a speaker (``speakers.pick_speakers``: espeak-ng
  accents and variants, flite voices, each at its own rate and pitch) says the wake phrase,
  pauses 0.2-1.5 s, and says a smart-home command, in a room (dry, or reverberation of RT60
  0.3 or 0.6 s) with a noise (``scenes.NOISE_KINDS``) at 30, 20 or 10 dB SNR;
- *non-wake stretches*: minutes of other speech (sentences from many speakers, none a wake
  phrase) under the same rooms and noises, for false accepts per hour and idle CPU.

Labels are in seconds on each file's timeline; ends are *audible* ends (the last 10 ms of the
direct sound above both 2 % of its loudest frame and the noise), so a release buried in the
noise does not count as part of the phrase. Regenerate with ``python -m assistant.audio.evalset``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from assistant.audio import scenes
from assistant.audio.speakers import Speaker, pick_speakers, say
from assistant.audio.wavfile import load_wav_16k, write_wav
from assistant.protocols import SAMPLE_RATE, Samples

VERSION = 1
SR = SAMPLE_RATE
PHRASES = {"okay_nabu": "okay nabu", "hey_jarvis": "hey jarvis", "alexa": "alexa", "hey_mycroft": "hey mycroft"}
COMMANDS = (
    "turn on the kitchen light", "what is the temperature in the living room", "set the bedroom heating to twenty degrees",
    "close the garage door please", "switch off all the lights downstairs", "dim the lamp in the study to thirty percent",
    "is the front door locked", "start the fan in the attic", "play some music in the bathroom",
    "turn the hallway light blue", "open the blinds", "how warm is it outside",
)
SNRS = (30, 20, 10)


@dataclass(frozen=True)
class Size:
    speakers: int  # per wake word
    snrs: tuple[int, ...]
    nonwake_minutes: float


SIZES = {"quick": Size(1, (20, 10), 1.0), "full": Size(12, SNRS, 120.0)}


@dataclass(frozen=True)
class WakeSample:
    file: str
    wake_model: str
    speaker: str
    noise: str
    snr_db: float
    rt60: float
    pause_s: float
    command: str
    wake_start: float
    wake_end: float
    cmd_start: float
    cmd_end: float


@dataclass(frozen=True)
class Stretch:
    file: str
    seconds: float
    noise: str
    snr_db: float
    rt60: float


@dataclass(frozen=True)
class EvalSet:
    root: Path
    size: str
    samples: list[WakeSample]
    stretches: list[Stretch]

    def audio(self, file: str) -> Samples:
        return load_wav_16k(self.root / file)

    @property
    def nonwake_hours(self) -> float:
        return sum(s.seconds for s in self.stretches) / 3600


def default_dir(state_dir: Path, size: str) -> Path:
    return state_dir / "cache" / "audio-eval" / f"{size}-v{VERSION}"


def load(root: Path) -> EvalSet | None:
    """The set in ``root``, or None when it is missing or from another version."""
    try:
        data = json.loads((root / "labels.json").read_text())
    except (OSError, ValueError):
        return None
    if data.get("version") != VERSION:
        return None
    return EvalSet(root, data["size"], [WakeSample(**s) for s in data["samples"]], [Stretch(**s) for s in data["stretches"]])


def build(root: Path, size: str, seed: int = 13, progress: Callable[[str], None] = lambda m: None) -> EvalSet:
    """Generate the set of ``size`` ("quick" or "full") into ``root``; labels.json is written last."""
    spec = SIZES[size]
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.json").unlink(missing_ok=True)
    talkers = _Talkers(pick_speakers(6, np.random.default_rng(seed + 1)), rng)
    conditions = [(kind, snr) for snr in spec.snrs for kind in scenes.NOISE_KINDS]
    samples: list[WakeSample] = []
    for m, (model, phrase) in enumerate(PHRASES.items()):
        progress(f"wake samples for {model}: {spec.speakers} speakers x {len(conditions)} rooms and noises")
        for s, speaker in enumerate(pick_speakers(spec.speakers, np.random.default_rng(seed + 100 + m))):
            wake = say(speaker, phrase).astype(np.float64)
            for c, (kind, snr) in enumerate(conditions):
                command = COMMANDS[(s * len(conditions) + c) % len(COMMANDS)]
                file = f"wake/{model}/{s:02d}-{c:02d}.wav"
                samples.append(_wake_sample(root, file, model, speaker, wake, command, kind, snr, rng, talkers))
    stretches = _stretches(root, spec, rng, talkers, progress)
    labels = {"version": VERSION, "size": size, "seed": seed,
              "samples": [asdict(s) for s in samples], "stretches": [asdict(s) for s in stretches]}
    (root / "labels.json").write_text(json.dumps(labels, indent=1))
    return EvalSet(root, size, samples, stretches)


def load_or_build(root: Path, size: str, progress: Callable[[str], None] = lambda m: None) -> EvalSet:
    found = load(root)
    if found is not None and found.size == size:
        return found
    progress(f"generating the {size} evaluation set into {root} (once)")
    return build(root, size, progress=progress)


# -- generation -----------------------------------------------------------------------------


class _Talkers:
    """Other people talking, for babble and for the non-wake speech: sentences from a word grammar."""

    def __init__(self, speakers: list[Speaker], rng: np.random.Generator) -> None:
        self.speakers = speakers
        self.rng = rng
        self._pool: list[np.ndarray] = []

    def sentence(self) -> str:
        r = self.rng
        who = r.choice(["my sister", "the neighbour", "our teacher", "the doctor", "my friend Tom", "the children", "Anna"])
        what = r.choice(["the train", "the new bakery", "the garden", "the football match", "the weather", "dinner",
                         "the holiday in Spain", "the broken bicycle", "the library", "a film about penguins"])
        when = r.choice(["yesterday", "on Sunday", "last week", "this morning", "after lunch", "tomorrow evening"])
        templates = [
            f"{who} told me about {what} {when}.", f"Did you hear what happened to {what} {when}?",
            f"I think {who} will call about {what} {when}.", f"Okay, so {what} was really not what we expected.",
            f"Hey, can you remember where we put the keys {when}?", f"We should talk to {who} about {what}.",
            f"Honestly, {what} is the best thing that happened {when}.", "Next, we need to buy milk, bread and some apples.",
            f"Hello everyone, and welcome back to the programme about {what}.", f"Alright, I will be there {when}, okay?",
        ]
        return str(r.choice(templates))

    def speech(self, seconds: float) -> np.ndarray:
        """About ``seconds`` of sentences from one random talker, with short pauses between them."""
        speaker = self.speakers[int(self.rng.integers(len(self.speakers)))]
        parts: list[np.ndarray] = []
        total = 0
        while total < seconds * SR:
            text = " ".join(self.sentence() for _ in range(3))
            parts += [say(speaker, text).astype(np.float64), np.zeros(int(self.rng.uniform(0.15, 0.8) * SR))]
            total += len(parts[-2]) + len(parts[-1])
        return np.concatenate(parts)

    def talker(self, length: int, rng: np.random.Generator) -> np.ndarray:
        """A slice of a pooled talker's speech, for babble (the pool is rendered once)."""
        if not self._pool:
            self._pool = [self.speech(40.0) for _ in range(6)]
        voice = self._pool[int(rng.integers(len(self._pool)))]
        start = int(rng.integers(0, max(1, len(voice) - length)))
        return np.resize(voice[start:], length)


def _room(rng: np.random.Generator) -> float:
    return float(rng.choice([0.0, 0.3, 0.6]))


def _mix(direct: np.ndarray, speech_rms: float, kind: str, snr: float, rt60: float,
         rng: np.random.Generator, talkers: _Talkers) -> tuple[np.ndarray, float]:
    """Speech in the room plus noise at ``snr`` below ``speech_rms``; the int16 mix and the noise RMS after scaling."""
    wet = scenes.reverberate(direct, scenes.impulse_response(rt60, rng)) if rt60 else direct
    noise_rms = speech_rms / 10 ** (snr / 20)
    mix = wet + scenes.make_noise(kind, len(direct), rng, talkers.talker) * noise_rms
    scale = min(1.0, 29000 / (np.max(np.abs(mix)) + 1e-9), 6000 / (speech_rms + 1e-9))
    return np.clip(np.rint(mix * scale), -32768, 32767).astype(np.int16), noise_rms


def _wake_sample(root: Path, file: str, model: str, speaker: Speaker, wake: np.ndarray, command_text: str,
                 kind: str, snr: float, rng: np.random.Generator, talkers: _Talkers) -> WakeSample:
    command = say(speaker, command_text).astype(np.float64)
    lead, pause, trail = float(rng.uniform(3.0, 4.0)), float(rng.uniform(0.2, 1.5)), 2.5  # the room is heard before
    rt60 = _room(rng)
    w0 = int(lead * SR)
    c0 = w0 + len(wake) + int(pause * SR)
    direct = np.zeros(c0 + len(command) + int(trail * SR))
    direct[w0 : w0 + len(wake)] = wake
    direct[c0 : c0 + len(command)] = command
    speech_rms = float(np.sqrt(np.mean(np.concatenate([wake, command]) ** 2)))
    mix, noise_rms = _mix(direct, speech_rms, kind, snr, rt60, rng, talkers)
    write_wav(_path(root, file), mix)
    return WakeSample(
        file=file, wake_model=model, speaker=speaker.name, noise=kind, snr_db=snr, rt60=rt60, pause_s=round(pause, 3),
        command=command_text,
        wake_start=(w0 + scenes.audible_start(wake, noise_rms)) / SR,
        wake_end=(w0 + scenes.audible_end(wake, noise_rms)) / SR,
        cmd_start=(c0 + scenes.audible_start(command, noise_rms)) / SR,
        cmd_end=(c0 + scenes.audible_end(command, noise_rms)) / SR,
    )


def _stretches(root: Path, spec: Size, rng: np.random.Generator, talkers: _Talkers,
               progress: Callable[[str], None]) -> list[Stretch]:
    """One-minute stretches of other speech, each with its own talker, room and noise."""
    out: list[Stretch] = []
    minutes = int(np.ceil(spec.nonwake_minutes))
    progress(f"non-wake speech: {minutes} minutes")
    for i in range(minutes):
        kind = scenes.NOISE_KINDS[i % len(scenes.NOISE_KINDS)]
        snr = float(spec.snrs[(i // len(scenes.NOISE_KINDS)) % len(spec.snrs)])
        speech = talkers.speech(60.0)[: 60 * SR]
        rms = float(np.sqrt(np.mean(speech[np.abs(speech) > 0] ** 2)))
        rt60 = _room(rng)
        mix, _ = _mix(speech, rms, kind, snr, rt60, rng, talkers)
        file = f"nonwake/{i:03d}.wav"
        write_wav(_path(root, file), mix)
        out.append(Stretch(file, len(mix) / SR, kind, snr, rt60))
        if (i + 1) % 10 == 0:
            progress(f"non-wake speech: {i + 1}/{minutes} minutes")
    return out


def _path(root: Path, file: str) -> Path:
    path = root / file
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.audio.evalset", description="generate the ear's evaluation set")
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--out", required=True, help="folder to write it to")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    found = build(Path(args.out), args.size, args.seed, progress=lambda m: print(f"... {m}", file=sys.stderr, flush=True))
    print(f"{len(found.samples)} wake samples, {found.nonwake_hours * 60:.0f} minutes of non-wake speech in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
