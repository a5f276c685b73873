"""Resampling and framing, checked against sox on the recorded speech of alsa-utils."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from assistant.audio.resample import Reframer, Resampler, resample, to_mono_int16
from assistant.audio.wavfile import read_wav

FRONT_CENTER = "/usr/share/sounds/alsa/Front_Center.wav"


def sox_convert(tmp_path, rate: int, src: str = FRONT_CENTER, name: str = "x"):
    out = tmp_path / f"{name}-{rate}.wav"
    subprocess.run(["sox", src, "-r", str(rate), "-c", "1", "-b", "16", str(out)], check=True)
    return read_wav(out)[0]


pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


@pytest.mark.parametrize("rate", [48000, 44100, 22050, 8000])
def test_matches_sox_on_real_speech(tmp_path, rate):
    source = sox_convert(tmp_path, rate, name="in")
    reference = sox_convert(tmp_path, 16000, src=str(tmp_path / f"in-{rate}.wav"), name="ref")
    ours = resample(source, rate, 16000)
    assert len(ours) == len(reference)
    assert np.corrcoef(ours.astype(float), reference.astype(float))[0, 1] > 0.99


@pytest.mark.parametrize("rate", [48000, 44100])
def test_streaming_in_odd_blocks_equals_one_shot(tmp_path, rate):
    source = sox_convert(tmp_path, rate)
    resampler = Resampler(rate)
    rng = np.random.default_rng(1)
    parts, i = [], 0
    while i < len(source):
        n = int(rng.integers(1, 900))
        parts.append(resampler.process(source[i : i + n]))
        i += n
    streamed = np.concatenate(parts)
    whole = Resampler(rate).process(source)
    assert np.array_equal(streamed, whole)
    # about in * 16000 / rate samples come out (the last few wait for more input)
    assert abs(len(streamed) - len(source) * 16000 / rate) <= resampler._k


def test_content_above_the_new_nyquist_is_removed():
    """A 7.5 kHz component at 48 kHz must not alias into the 16 kHz output (Nyquist 8 kHz: kept);
    a 10 kHz one (above 8 kHz) must be suppressed by more than 50 dB."""
    t = np.arange(48000) / 48000
    for freq, kept in ((3000, True), (10000, False)):
        x = (10000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
        y = resample(x, 48000)[1000:-1000].astype(float)
        gain = np.sqrt(np.mean(y**2)) / (10000 / np.sqrt(2))
        if kept:
            assert 0.95 < gain < 1.05
        else:
            assert gain < 10 ** (-50 / 20)


def test_passthrough_and_bad_rates():
    x = np.arange(100, dtype=np.int16)
    assert Resampler(16000).process(x) is x
    with pytest.raises(ValueError):
        Resampler(0)


def test_mono_from_stereo_float_and_int32():
    stereo = np.array([[1000, 3000], [-2000, -4000]], dtype=np.int16)
    assert to_mono_int16(stereo).tolist() == [2000, -3000]
    assert to_mono_int16(np.array([[0.5], [-1.0]], dtype=np.float32)).tolist() == [16384, -32767]
    assert to_mono_int16(np.array([70000, -70000])).tolist() == [32767, -32768]


def test_reframer_cuts_exact_frames_and_pads_the_last():
    r = Reframer(160)
    out = list(r.push(np.ones(100, np.int16))) + list(r.push(np.ones(300, np.int16)))
    assert [len(f) for f in out] == [160, 160]
    last = r.flush()
    assert last is not None and len(last) == 160 and last[:80].all() and not last[80:].any()
    assert r.flush() is None
