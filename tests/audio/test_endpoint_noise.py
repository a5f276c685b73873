"""The end of a command in noise (Silero + the noise-floor gate): what comes after it must not hold the turn open.

Real espeak-ng speech in pink noise at 10 dB SNR. After a command, other talkers' syllables and a
room's reverberation stand above the noise for a moment; they must not restart the end silence,
while a pause inside the command must not end it. Times are on the audio's own timeline.
"""

from __future__ import annotations

import numpy as np

from assistant.audio import scenes
from assistant.audio.clips import espeak, noise, speech_bounds
from assistant.audio.endpoint import Endpointer, SpeechStart, Utterance
from assistant.audio.vad import SileroVad
from assistant.config.schema import VadConfig
from assistant.protocols import SAMPLE_RATE

from .conftest import frames_of, needs_espeak, needs_silero

SR = SAMPLE_RATE
COMMAND = "turn on the light in the kitchen please"
LATE, EARLY = 0.15, 0.25  # the utterance's end against the command's last loud frame: the soft "z" of "please"
# is under the noise at 10 dB, so the end may come early (the utterance's 200 ms tail of audio still holds it)
LEAD = 3.0  # the endpointer hears the room this long first (the service feeds it while idle): the noise floor


def trimmed(text: str, voice: str) -> np.ndarray:
    speech = espeak(text, voice)
    first, last = speech_bounds(speech)
    return speech[first:last].astype(np.float64)


def scene(parts: list[tuple[float, np.ndarray]], length_s: float, snr_db: float, seed: int = 0) -> np.ndarray:
    """``parts`` (start second, signal) summed, with pink noise ``snr_db`` under the first part's RMS."""
    out = np.zeros(int(length_s * SR))
    for start, signal in parts:
        i = int(start * SR)
        out[i : i + len(signal)] += signal[: len(out) - i]
    rms = np.sqrt(np.mean(parts[0][1] ** 2))
    out += noise("pink", len(out), np.random.default_rng(seed)) * rms / 10 ** (snr_db / 20)
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def endpoint(samples: np.ndarray, config: VadConfig) -> list[tuple[object, float]]:
    ep = Endpointer(config, SileroVad())
    events = []
    for f in frames_of(samples):
        if not ep.active and ep.t >= LEAD - 1.0 - 1e-9 and not events:
            ep.start(ep.t)
        event = ep.feed(f)
        if event is not None:
            events.append((event, ep.t))
    return events


def one_utterance(events: list[tuple[object, float]]) -> tuple[Utterance, float]:
    kinds = [type(e).__name__ for e, _ in events]
    assert kinds == ["SpeechStart", "Utterance"], kinds
    utt, emitted = events[1]
    assert isinstance(events[0][0], SpeechStart) and isinstance(utt, Utterance)
    return utt, emitted


def syllables(voice: str, count: int) -> list[np.ndarray]:
    """The ``count`` loudest 40 ms pieces of another talker's sentence: the peaks that stand out of babble."""
    speech = trimmed("did you hear what happened to the garden yesterday", voice)
    n = 640
    pieces = [speech[i : i + n] for i in range(0, len(speech) - n, n)]
    return sorted(pieces, key=lambda p: -float(np.mean(p**2)))[:count]


@needs_espeak
@needs_silero
def test_other_talkers_syllables_after_the_command_do_not_hold_the_turn():
    """Two 40 ms peaks of another talker, as loud as the command, 0.25 and 0.55 s after it: before the
    resume rule each restarted the 700 ms of end silence and the turn ended 0.6 s late."""
    command = trimmed(COMMAND, "en-gb")
    end = LEAD + len(command) / SR
    first, second = syllables("en-us+m3", 2)
    parts = [(LEAD, command), (end + 0.25, first), (end + 0.55, second)]
    config = VadConfig()
    utt, emitted = one_utterance(endpoint(scene(parts, end + 2.5, snr_db=10), config))
    assert end - EARLY <= utt.end_t <= end + LATE
    assert emitted - end <= config.end_silence_ms / 1000 + 0.1


@needs_espeak
@needs_silero
def test_a_rooms_tail_does_not_hold_the_turn():
    """The command in a room of RT60 0.6 s: its reverberation after the last word is not more speech."""
    command = trimmed(COMMAND, "en-gb")
    wet = scenes.reverberate(np.concatenate([command, np.zeros(SR)]), scenes.impulse_response(0.6, np.random.default_rng(1)))
    end = LEAD + len(command) / SR
    config = VadConfig()
    utt, emitted = one_utterance(endpoint(scene([(LEAD, wet)], end + 2.5, snr_db=10), config))
    assert end - EARLY <= utt.end_t <= end + LATE
    assert emitted - end <= config.end_silence_ms / 1000 + 0.1


@needs_espeak
@needs_silero
def test_a_pause_inside_the_command_does_not_end_it():
    """"turn on the light", 0.45 s of pause, "in the kitchen please": one utterance holding both."""
    head, tail = trimmed("turn on the light", "en-us"), trimmed("in the kitchen please", "en-us")
    start, resume = LEAD, LEAD + len(head) / SR + 0.45
    end = resume + len(tail) / SR
    utt, _ = one_utterance(endpoint(scene([(start, head), (resume, tail)], end + 2.0, snr_db=10), VadConfig()))
    assert utt.start_t <= start + 0.1 and end - EARLY <= utt.end_t <= end + LATE
