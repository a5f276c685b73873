"""Capture through the real sounddevice/PortAudio path from a PulseAudio null-sink monitor
(started by the fixture): speech played with paplay must come out as 16 kHz frames."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pytest

from assistant.audio.clips import espeak
from assistant.audio.microphone import MicrophoneSource
from assistant.audio.wavfile import write_wav
from assistant.config.schema import AudioConfig
from assistant.errors import AssistantError

from .conftest import Recorder, best_correlation, needs_espeak

CONFIG = AudioConfig(input_device="pulse", stall_timeout_s=1.0, reopen_max_backoff_s=0.5)


def capture_while_playing(pulse, source, clip, tmp_path, settle: float = 0.5):
    """Play ``clip`` into the sink while recording; the recorded 16 kHz audio."""
    wav = tmp_path / "speech.wav"
    write_wav(wav, clip.samples)
    recorder = Recorder(source)
    try:
        assert recorder.wait_for(lambda: len(recorder.frames) > 20, timeout=10), "no audio from the monitor"
        start = len(recorder.frames)
        pulse.play(wav).wait(timeout=30)
        time.sleep(settle)
        return recorder.audio(start), recorder
    finally:
        recorder.stop()


@needs_espeak
def test_speech_played_into_the_sink_is_captured_at_16k(pulse, clip, tmp_path):
    c = clip("turn on the kitchen light", "en-us", lead_s=0.2, trail_s=0.2, snr_db=None)
    source = MicrophoneSource(CONFIG)
    assert source.capture_rate == 16000 and source.status == "ok"
    audio, recorder = capture_while_playing(pulse, source, c, tmp_path)
    assert all(len(f) == 160 and f.dtype == np.int16 for f in recorder.frames)
    assert best_correlation(audio, c.samples) > 0.9
    assert source.status == "closed"


@needs_espeak
def test_native_rate_capture_is_resampled(pulse, clip, tmp_path):
    c = clip("set the heating to twenty degrees", "en-gb", lead_s=0.2, trail_s=0.2, snr_db=None)
    source = MicrophoneSource(dataclasses.replace(CONFIG, capture_rate=48000, block_ms=20))
    assert source.capture_rate == 48000
    audio, recorder = capture_while_playing(pulse, source, c, tmp_path)
    assert all(len(f) == 320 for f in recorder.frames)
    assert best_correlation(audio, c.samples) > 0.9


class RefusesSixteenKilohertz:
    """The real sounddevice module, except that opening an input at 16 kHz fails the way
    many USB microphones fail (PaErrorCode -9997). A fake only for that one refusal: no
    device here refuses 16 kHz, since the PulseAudio plugin resamples anything."""

    def __init__(self) -> None:
        import sounddevice

        self._sd = sounddevice
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sd, name)

    def InputStream(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("samplerate") == 16000:
            self.refused += 1
            raise self._sd.PortAudioError("Error opening InputStream: Invalid sample rate [PaErrorCode -9997]")
        return self._sd.InputStream(*args, **kwargs)


@needs_espeak
def test_falls_back_to_the_device_rate_when_16k_is_refused(pulse, clip, tmp_path):
    sd = RefusesSixteenKilohertz()
    source = MicrophoneSource(CONFIG, sounddevice=sd)
    native = int(sd.query_devices("pulse", "input")["default_samplerate"])
    assert sd.refused >= 1 and source.capture_rate == native != 16000
    c = clip("what time is it", "en-us+m3", lead_s=0.2, trail_s=0.2, snr_db=None)
    audio, _ = capture_while_playing(pulse, source, c, tmp_path)
    assert best_correlation(audio, c.samples) > 0.9


def test_unknown_device_name_is_a_one_line_error(pulse):
    with pytest.raises(AssistantError) as info:
        MicrophoneSource(dataclasses.replace(CONFIG, input_device="ReSpeaker 4-Mic"))
    message = str(info.value)
    assert "no audio input device matching 'ReSpeaker 4-Mic'" in message and "'pulse'" in message
    assert "\n" not in message


def test_device_name_is_a_case_insensitive_substring(pulse):
    source = MicrophoneSource(dataclasses.replace(CONFIG, input_device="PULS"))
    try:
        assert source.device_name == "pulse"
    finally:
        source.close()


@needs_espeak
def test_device_loss_is_survived_and_reported(pulse, clip, tmp_path):
    """The sink (and so its monitor source) is unloaded mid-stream, then loaded again."""
    source = MicrophoneSource(CONFIG)
    recorder = Recorder(source)
    try:
        assert recorder.wait_for(lambda: len(recorder.frames) > 20, timeout=10)
        pulse.unload_sink()
        assert recorder.wait_for(lambda: source.status.startswith("reopening"), timeout=10), source.status
        assert recorder.wait_for(lambda: source.reopen_attempts >= 1, timeout=10)
        time.sleep(1.0)  # a few failed or silent attempts while the device is gone
        pulse.load_sink()
        assert recorder.wait_for(lambda: source.status == "ok" and source.reopens >= 1, timeout=20), source.status
        assert any(s.startswith("reopening") for s in [source.status, *recorder.statuses]) or source.reopens >= 1
        start = len(recorder.frames)
        assert recorder.wait_for(lambda: len(recorder.frames) > start + 20, timeout=10), "no audio after recovery"
        c = clip("the microphone is back", "en-us", lead_s=0.2, trail_s=0.2, snr_db=None)
        wav = tmp_path / "back.wav"
        write_wav(wav, c.samples)
        start = len(recorder.frames)
        pulse.play(wav).wait(timeout=30)
        time.sleep(0.5)
        audio = recorder.audio(start)
        assert best_correlation(audio, c.samples) > 0.9
    finally:
        recorder.stop()
        if "spk" not in pulse.pactl("list", "short", "sinks").stdout:
            pulse.load_sink()


def test_a_slow_reader_drops_blocks_and_says_so(pulse, caplog):
    source = MicrophoneSource(dataclasses.replace(CONFIG, queue_seconds=0.1, stall_timeout_s=5.0))
    frames = source.frames()
    try:
        next(frames)
        time.sleep(1.0)  # the reader is busy: 1 s of audio arrives, 0.1 s fits in the queue
        with caplog.at_level(logging.WARNING, logger="assistant.audio.microphone"):
            for _ in range(30):
                next(frames)
        assert source.dropped_blocks > 0
        assert any("blocks dropped" in r.getMessage() for r in caplog.records)
    finally:
        source.close()


@needs_espeak
def test_listen_command_on_the_microphone(pulse, tmp_path):
    """``assistant listen`` on the real capture path: a wake word and a command played into the sink."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    audio = np.concatenate([np.zeros(8000, np.int16), espeak("okay nabu", "en-us"), np.zeros(4800, np.int16),
                            espeak("turn on the kitchen light", "en-us"), np.zeros(16000, np.int16)])
    wav = tmp_path / "say.wav"
    write_wav(wav, audio)
    env = {**pulse.env, "PYTHONPATH": str(ROOT), "ASSISTANT_AUDIO__INPUT_DEVICE": "pulse"}
    listen = subprocess.Popen(
        [sys.executable, "-m", "assistant", "listen", "--duration", "7"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert listen.stdout is not None
    first = listen.stdout.readline()
    assert "listening to microphone 'pulse' at 16000 Hz" in first
    time.sleep(1.0)
    pulse.play(wav).wait(timeout=30)
    out, err = listen.communicate(timeout=30)
    assert listen.returncode == 0, err
    assert "WAKE okay_nabu" in out and out.count("utterance ") == 1, out


def test_sound_server_restart_is_survived(pulse):
    """The whole server goes away (like a USB microphone unplugged: the device vanishes and
    PortAudio must re-scan to find it again) and comes back a few seconds later."""
    source = MicrophoneSource(CONFIG)
    recorder = Recorder(source)
    try:
        assert recorder.wait_for(lambda: len(recorder.frames) > 20, timeout=10)
        pulse.stop()
        assert recorder.wait_for(lambda: source.status.startswith("reopening"), timeout=10), source.status
        assert recorder.wait_for(lambda: source.reopen_attempts >= 5, timeout=20)  # it re-scanned at least once
        assert source.status.startswith("reopening")
        pulse.start()
        assert recorder.wait_for(lambda: source.status == "ok", timeout=30), source.status
        start = len(recorder.frames)
        assert recorder.wait_for(lambda: len(recorder.frames) > start + 50, timeout=10), "no audio after the restart"
    finally:
        recorder.stop()
        if pulse.proc is None:
            pulse.start()
