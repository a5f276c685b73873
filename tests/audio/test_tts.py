"""Text to speech: espeak-ng for real, Piper on a tiny generated voice, and the fallbacks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from assistant.audio.endpoint import Endpointer, Utterance
from assistant.audio.factory import make_tts
from assistant.audio.resample import resample
from assistant.audio.tts import EspeakTts, PiperTts
from assistant.audio.vad import WebRtcVad
from assistant.config.schema import TtsConfig, VadConfig
from assistant.errors import AssistantError

from .conftest import frames_of, needs_espeak
from .tiny_piper import HOP, write_tiny_voice


def speech_seconds(chunks) -> float:
    """Seconds of speech the VAD-based endpointer finds in synthesised audio."""
    audio = np.concatenate([c.samples for c in chunks])
    rate = chunks[0].sample_rate
    pcm = resample(audio, rate)
    pcm = np.concatenate([np.zeros(8000, np.int16), pcm, np.zeros(16000, np.int16)])
    ep = Endpointer(VadConfig(), WebRtcVad(2))
    ep.start(0.0)
    for f in frames_of(pcm):
        event = ep.feed(f)
        if isinstance(event, Utterance):
            return event.end_t - event.start_t
    return 0.0


@needs_espeak
def test_espeak_streams_speech_in_chunks():
    chunks = list(EspeakTts("en-us", 170).synthesize("The kitchen light is on. It is twenty one degrees."))
    assert len(chunks) > 5  # streamed, not one block
    assert {c.sample_rate for c in chunks} == {22050}
    assert all(c.samples.dtype == np.int16 for c in chunks)
    assert 2.0 < speech_seconds(chunks) < 5.0


@needs_espeak
def test_espeak_voice_and_rate_change_the_audio():
    text = "Good evening, the door is locked."
    slow = np.concatenate([c.samples for c in EspeakTts("en-us", 100).synthesize(text)])
    fast = np.concatenate([c.samples for c in EspeakTts("en-us", 300).synthesize(text)])
    other = np.concatenate([c.samples for c in EspeakTts("en-gb", 100).synthesize(text)])
    assert len(slow) > 2 * len(fast)
    assert len(other) != len(slow) or not np.array_equal(other, slow)


@needs_espeak
def test_espeak_bad_voice_and_empty_text():
    with pytest.raises(AssistantError) as info:
        list(EspeakTts("xx-nowhere").synthesize("hello"))
    assert "espeak-ng failed (voice 'xx-nowhere')" in str(info.value) and "\n" not in str(info.value)
    assert list(EspeakTts().synthesize("   ")) == []


def test_piper_on_a_tiny_generated_voice(tmp_path):
    pytest.importorskip("piper")
    pytest.importorskip("onnx")
    tts = make_tts(TtsConfig(engine="piper", piper_model=str(write_tiny_voice(tmp_path))))
    assert isinstance(tts, PiperTts)
    one = list(tts.synthesize("Hello."))
    two = list(tts.synthesize("Turn on the kitchen light. Then the hall."))
    assert [c.sample_rate for c in one + two] == [16000] * 3  # one chunk per sentence
    assert all(len(c.samples) % HOP == 0 and c.samples.dtype == np.int16 for c in one + two)
    assert len(two[0].samples) > len(one[0].samples)


def test_piper_voice_missing_is_one_line_or_falls_back(tmp_path, caplog):
    missing = str(tmp_path / "en_US-lessac-medium.onnx")
    with pytest.raises(AssistantError) as info:
        make_tts(TtsConfig(engine="piper", piper_model=missing, fallback=False))
    assert str(info.value) == f"Piper voice not found: {missing}"
    with pytest.raises(AssistantError, match=r"needs tts.piper_model"):
        make_tts(TtsConfig(engine="piper", fallback=False))
    (tmp_path / "v.onnx").write_bytes(b"x")
    with pytest.raises(AssistantError, match=r"v\.onnx\.json \(it must sit beside the \.onnx\)"):
        PiperTts(tmp_path / "v.onnx")
    with caplog.at_level(logging.WARNING):
        tts = make_tts(TtsConfig(engine="piper", piper_model=missing))
    assert isinstance(tts, EspeakTts)
    assert "Piper voice not found" in caplog.text and "espeak-ng instead" in caplog.text


def test_piper_broken_voice_file(tmp_path):
    pytest.importorskip("piper")
    voice = write_tiny_voice(tmp_path)
    voice.write_bytes(b"not onnx")
    with pytest.raises(AssistantError, match="cannot load Piper voice"):
        PiperTts(voice)
