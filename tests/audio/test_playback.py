"""Playback through the real PortAudio path into a PulseAudio null sink, recorded from its
monitor; sentence splitting for streamed replies; barge-in with the wake word."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from assistant.audio.clips import alsa_speech, espeak
from assistant.audio.factory import make_player
from assistant.audio.microphone import MicrophoneSource
from assistant.audio.playback import Player, SentenceSplitter, sentences, speak
from assistant.audio.resample import resample
from assistant.audio.tts import EspeakTts
from assistant.audio.wakeword import Detector, MicroWakeWordModel
from assistant.audio.wavfile import write_wav
from assistant.config.schema import AudioConfig, WakeWordConfig
from assistant.protocols import AudioChunk

from .conftest import Recorder, best_correlation, needs_espeak

MIC = AudioConfig(input_device="pulse", stall_timeout_s=5.0)
LONG_REPLY = (
    "Here is the weather for the whole week. Monday will be sunny and warm, with a light breeze "
    "from the west. Tuesday brings clouds in the morning and rain in the afternoon."
)


def rms(x) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


@pytest.fixture
def listening(pulse):
    recorder = Recorder(MicrophoneSource(MIC))
    assert recorder.wait_for(lambda: len(recorder.frames) > 20, timeout=10)
    yield recorder
    recorder.stop()


@pytest.fixture
def player(pulse):
    p = make_player(AudioConfig(output_device="pulse"))
    yield p
    p.close()


@needs_espeak
def test_player_plays_speech_into_the_sink(listening, player):
    text = "The kitchen light is now on."
    chunks = list(EspeakTts().synthesize(text))
    start = len(listening.frames)
    assert not player.speaking
    player.play(iter(chunks))
    assert player.speaking
    assert player.wait(timeout=20) and not player.speaking
    time.sleep(0.5)
    heard = listening.audio(start)
    spoken = resample(np.concatenate([c.samples for c in chunks]), 22050)
    assert best_correlation(heard, spoken) > 0.8


@needs_espeak
def test_stop_silences_at_once_and_drops_the_queue(listening, player):
    tts = EspeakTts()
    player.play(tts.synthesize(LONG_REPLY))
    player.play(tts.synthesize("This sentence is queued and must never be heard."))
    assert listening.wait_for(lambda: player.played_s > 1.0, timeout=20)
    player.stop()
    stopped_at = len(listening.frames)
    assert player.wait(timeout=2) and not player.speaking
    played = player.played_s
    time.sleep(1.0)
    after = listening.audio(stopped_at + 30)  # skip 0.3 s of audio already on its way
    assert rms(after) < 50  # silence: the rest of the reply and the queued sentence were dropped
    assert player.played_s == played < 12.0


def test_stop_is_immediate_even_while_synthesis_is_slow(listening, player):
    """stop() must not wait for the TTS generator (Piper can take a while per sentence)."""
    _, speech = alsa_speech()[2]
    more = threading.Event()

    def slow_tts():
        yield AudioChunk(speech, 16000)
        more.wait(timeout=30)  # the next chunk is "still being synthesised"
        yield AudioChunk(speech, 16000)

    player.play(slow_tts())
    assert listening.wait_for(lambda: player.played_s >= len(speech) / 16000 - 0.05, timeout=20)
    player.stop()
    assert player.wait(timeout=5) and not player.speaking  # while the generator is still blocked
    played = player.played_s
    more.set()
    time.sleep(0.5)
    assert player.played_s == played  # the late chunk was never played


def test_player_plays_an_unusual_rate(listening, player):
    """Recorded speech at 11025 Hz (opened at that rate, or resampled to the device's own)."""
    _, speech = alsa_speech()[0]
    chunk = AudioChunk(samples=resample(speech, 16000, 11025), sample_rate=11025)
    start = len(listening.frames)
    player.play([chunk])
    assert player.wait(timeout=10)
    time.sleep(0.5)
    assert best_correlation(listening.audio(start), speech) > 0.8


@needs_espeak
def test_barge_in_wake_word_during_playback_stops_it(pulse, listening, player, tmp_path):
    """The reply plays; the user says the wake word over it (mixed in the same sink); the
    detector, gated because the assistant speaks, still fires above the barge-in threshold.

    Without echo cancellation this needs the assistant's voice at the microphone well below
    the user's: here 16 dB (gain 0.15). Measured offline on the same audio, the okay_nabu score
    is 0.96-0.98 at -16 dB, 0.83-0.95 at -12 dB, 0.3-0.9 at -9 dB and 0.01-0.12 at 0 dB.
    """
    detector = Detector(MicroWakeWordModel("okay_nabu"), WakeWordConfig())
    fired = threading.Event()
    seen = [len(listening.frames)]
    peak = [0.0]

    def watch() -> None:
        while not fired.is_set() and not stop.is_set():
            frames = listening.frames[seen[0] :]
            seen[0] += len(frames)
            for f in frames:
                detector.gate(player.speaking)
                if detector.detect(f):
                    player.stop()
                    fired.set()
                peak[0] = max(peak[0], detector.score)
            time.sleep(0.01)

    stop = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        echo = (AudioChunk((c.samples * 0.15).astype(np.int16), c.sample_rate) for c in EspeakTts().synthesize(LONG_REPLY))
        player.play(echo)
        assert listening.wait_for(lambda: player.played_s > 1.5, timeout=20)
        assert not fired.is_set()  # its own voice did not wake it
        wake = tmp_path / "wake.wav"
        write_wav(wake, np.concatenate([espeak("okay nabu", "en-us"), np.zeros(8000, np.int16)]))
        pulse.play(wake).wait(timeout=10)
        assert fired.wait(timeout=5), f"no barge-in (peak score {peak[0]:.2f})"
        assert player.wait(timeout=2) and not player.speaking
        assert player.played_s < 8.0  # the reply was cut short
    finally:
        stop.set()
        watcher.join(timeout=5)


@needs_espeak
def test_own_voice_does_not_wake_the_detector_when_gated(listening, player):
    """A reply that says the wake word itself: with barge-in off the gated detector ignores it."""
    detector = Detector(MicroWakeWordModel("okay_nabu"), WakeWordConfig(barge_in=False))
    start = len(listening.frames)
    player.play(EspeakTts().synthesize("Say okay nabu, and I will listen. Okay nabu."))
    fired, scores = [], []
    while player.speaking or len(listening.frames) > start:
        frames = listening.frames[start:]
        start += len(frames)
        for f in frames:
            detector.gate(player.speaking)
            fired.append(detector.detect(f))
            scores.append(detector.score)
        if not player.speaking and not frames:
            break
        time.sleep(0.02)
    assert len(fired) > 100 and not any(fired)
    assert max(scores) >= 0.5  # ungated, its own "okay nabu" would have woken it


@needs_espeak
def test_speech_starts_with_the_first_sentence_of_a_streamed_reply(listening, player):
    """The reply generator refuses to go on until the player speaks: only a player that
    starts on the first complete sentence lets it finish."""
    waited_for_speech = []

    def reply():
        yield "The kitchen light "
        yield "is on. And the"
        waited_for_speech.append(listening.wait_for(lambda: player.speaking and player.played_s > 0.2, timeout=10))
        yield " hall light is off."

    assert speak(reply(), EspeakTts(), player) == 2
    assert waited_for_speech == [True]
    assert player.wait(timeout=20)


class OnlyNativeRate:
    """The real sounddevice module, except that output streams open only at the device's own
    rate (as on many USB and HDMI outputs); a fake for that refusal alone."""

    def __init__(self) -> None:
        import sounddevice

        self._sd = sounddevice
        self.refused: list[int] = []

    def __getattr__(self, name: str):
        return getattr(self._sd, name)

    def OutputStream(self, *args, **kwargs):
        native = int(self._sd.query_devices(kwargs.get("device"), "output")["default_samplerate"])
        if kwargs.get("samplerate") != native:
            self.refused.append(kwargs.get("samplerate"))
            raise self._sd.PortAudioError("Error opening OutputStream: Invalid sample rate [PaErrorCode -9997]")
        return self._sd.OutputStream(*args, **kwargs)


@needs_espeak
def test_player_resamples_when_the_device_refuses_the_rate(listening, pulse):
    sd = OnlyNativeRate()
    player = Player("pulse", sounddevice=sd)
    try:
        chunks = list(EspeakTts().synthesize("The front door is locked."))
        start = len(listening.frames)
        player.play(chunks)
        assert player.wait(timeout=20)
        time.sleep(0.5)
        assert sd.refused == [22050]
        spoken = resample(np.concatenate([c.samples for c in chunks]), 22050)
        assert best_correlation(listening.audio(start), spoken) > 0.8
    finally:
        player.close()


def test_sentence_splitter():
    deltas = ["Hello the", "re. It is 3", ".5 degrees", " in the kitchen! Mr. Smith is ho", "me. Is it? Yes", "\nDone"]
    want = ["Hello there.", "It is 3.5 degrees in the kitchen!", "Mr. Smith is home.", "Is it?", "Yes", "Done"]
    assert list(sentences(deltas)) == want
    splitter = SentenceSplitter()
    assert splitter.push("No") == [] and splitter.push(".") == []  # "." at the very end may continue
    assert splitter.push(" OK") == ["No."]
    assert splitter.flush() == ["OK"] and splitter.flush() == []
