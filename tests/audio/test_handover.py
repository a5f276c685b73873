"""Hand-over from the wake word to the command, on real speech: espeak-ng "wake phrase, pause, command"
clips through the real wake-word models, VADs and endpointer, fed frame by frame as the service does.

The utterance must hold the whole command and nothing of the wake phrase (its audio, pre-roll
included, starts after the phrase's last audible frame), whatever the pause between them
(0.2-1.5 s), and the pause must never end the turn.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.audio.clips import espeak, noise, speech_bounds
from assistant.audio.endpoint import Endpointer, NoSpeech, Utterance
from assistant.audio.handover import boundary
from assistant.audio.vad import SileroVad, WebRtcVad
from assistant.audio.wakeword import Detector, MicroWakeWordModel
from assistant.audio.wavfile import write_wav
from assistant.config.schema import VadConfig, WakeWordConfig
from tests.conftest import run_cli

from .conftest import frames_of, needs_espeak, needs_silero

SR = 16000
COMMAND = "turn on the kitchen light"
CASES = [("okay_nabu", "okay nabu", "en-us"), ("alexa", "alexa", "en-gb"), ("hey_mycroft", "hey mycroft", "en-gb-x-rp"),
         ("hey_jarvis", "hey jarvis", "en+f4")]


def wake_then_command(phrase: str, voice: str, pause_s: float, snr_db: float = 20, seed: int = 0):
    """Lead, wake phrase, pause, command, trail, with white noise; the labelled times (s)."""
    def trimmed(text):
        s = espeak(text, voice)
        a, b = speech_bounds(s)
        return s[a:b].astype(np.float64)

    wake, command = trimmed(phrase), trimmed(COMMAND)
    lead = np.zeros(SR)
    audio = np.concatenate([lead, wake, np.zeros(int(pause_s * SR)), command, np.zeros(int(2.5 * SR))])
    rms = np.sqrt(np.mean(np.concatenate([wake, command]) ** 2))
    audio += noise("white", len(audio), np.random.default_rng(seed)) * rms / 10 ** (snr_db / 20)
    wake_end = (len(lead) + len(wake)) / SR
    cmd_start = wake_end + pause_s
    return np.clip(audio, -32768, 32767).astype(np.int16), wake_end, cmd_start, cmd_start + len(command) / SR


def listen(samples, model: str, vad_config: VadConfig):
    """Wake word and endpointer as the service runs them: (fire time, events after it)."""
    detector = Detector(MicroWakeWordModel(model), WakeWordConfig())
    vad = SileroVad() if vad_config.engine == "silero" else WebRtcVad(vad_config.aggressiveness)
    endpointer = Endpointer(vad_config, vad)
    fired, events = None, []
    for frame in frames_of(samples):
        if detector.detect(frame) and fired is None:
            fired = detector.t
            endpointer.start(endpointer.t, after_wake=True)
        event = endpointer.feed(frame)
        if event is not None:
            events.append(event)
    return fired, events


def audio_start(utt: Utterance, config: VadConfig) -> float:
    """Where the utterance's audio (pre-roll included) begins on the clip's timeline."""
    return utt.end_t + min(0.2, config.end_silence_ms / 1000) - len(utt.samples) / SR


@needs_espeak
@needs_silero
@pytest.mark.parametrize(("model", "phrase", "voice"), CASES)
@pytest.mark.parametrize("pause_s", [0.2, 0.5, 1.5])
def test_the_utterance_is_the_command_without_the_wake_phrase(model, phrase, voice, pause_s):
    samples, wake_end, cmd_start, cmd_end = wake_then_command(phrase, voice, pause_s)
    config = VadConfig(engine="silero")
    fired, events = listen(samples, model, config)
    assert fired is not None and fired < cmd_start
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(utterances) == 1 and not any(isinstance(e, NoSpeech) for e in events), events
    (utt,) = utterances
    assert audio_start(utt, config) >= wake_end  # nothing of the wake phrase, not even in the pre-roll
    assert utt.start_t <= cmd_start + 0.1  # the command from its first word ...
    assert abs(utt.end_t - cmd_end) <= 0.15  # ... to its last


@needs_espeak
@pytest.mark.parametrize("pause_s", [0.3, 1.2])
def test_webrtc_hand_over_in_white_noise(pause_s):
    samples, wake_end, cmd_start, cmd_end = wake_then_command("okay nabu", "en-us", pause_s, seed=1)
    config = VadConfig(engine="webrtc")
    _, events = listen(samples, "okay_nabu", config)
    (utt,) = [e for e in events if isinstance(e, Utterance)]
    assert audio_start(utt, config) >= wake_end and utt.start_t <= cmd_start + 0.1 and abs(utt.end_t - cmd_end) <= 0.15


@needs_espeak
@needs_silero
def test_a_wake_word_alone_is_no_speech_not_a_turn():
    """The pause after a wake word never makes a turn: with nothing said after it, listening times out."""
    samples, *_ = wake_then_command("alexa", "en-gb", 0.5)
    wake = samples[: int(2.2 * SR)]
    quiet = np.concatenate([wake, (noise("white", 7 * SR, np.random.default_rng(2)) * 30).astype(np.int16)])
    config = VadConfig(engine="silero", no_speech_timeout_s=4.0)
    fired, events = listen(quiet, "alexa", config)
    assert fired is not None and [type(e) for e in events] == [NoSpeech]
    assert events[0].t == pytest.approx(fired + 4.0, abs=0.02)


def test_boundary_is_in_the_pause_even_when_the_vad_bridges_it():
    """Synthetic energies: loud, a quiet dip, loud; the VAD calls it all speech (its hangover)."""
    power = [1e6] * 20 + [1e2] * 15 + [1e6] * 30
    cut = boundary([True] * len(power), power, 0.01)
    assert 20 <= cut < 35
    # with the VAD's silence available, the boundary is inside it
    voiced = [True] * 25 + [False] * 10 + [True] * 30
    assert 25 <= boundary(voiced, power, 0.01) < 35


@needs_espeak
def test_listen_hands_over_after_the_wake_phrase(tmp_path, clean_home):
    """``assistant listen --wav``: a long pause after the wake word, then the command: one utterance, the command."""
    samples, _, cmd_start, cmd_end = wake_then_command("okay nabu", "en-us", 1.2, snr_db=30)
    wav = tmp_path / "wake-pause-command.wav"
    write_wav(wav, samples)
    result = run_cli("listen", "--wav", str(wav), env={"HOME": str(clean_home)})
    assert result.returncode == 0, result.stderr
    (line,) = [s for s in result.stdout.splitlines() if " utterance " in s]
    start, end = (float(x) for x in line.split("utterance ")[1].split(" s:")[0].split("-"))
    assert abs(start - cmd_start) <= 0.1 and abs(end - cmd_end) <= 0.15
    assert "no speech: stopped listening" not in result.stdout
