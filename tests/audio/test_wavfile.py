"""WAV input: any rate and channel count, converted; paced in real time or as fast as possible."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from assistant.audio.wavfile import WavSource, load_wav_16k, read_wav, write_wav
from assistant.errors import AssistantError

FRONT_LEFT = "/usr/share/sounds/alsa/Front_Left.wav"


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
@pytest.mark.parametrize(
    ("rate", "channels", "bits", "encoding"),
    [(48000, 2, 16, "signed"), (44100, 1, 24, "signed"), (8000, 1, 8, "unsigned"), (32000, 2, 32, "signed"),
     (22050, 2, 32, "floating-point"), (44100, 3, 16, "signed")],
)
def test_any_rate_channels_and_format_become_16k_mono(tmp_path, rate, channels, bits, encoding):
    path = tmp_path / "x.wav"
    cmd = ["sox", FRONT_LEFT, "-r", str(rate), "-c", str(channels), "-b", str(bits), "-e", encoding, str(path)]
    subprocess.run(cmd, check=True)
    reference = load_wav_16k(FRONT_LEFT)
    converted = load_wav_16k(path)
    assert abs(len(converted) - len(reference)) <= 2
    n = min(len(converted), len(reference))
    # 8 kHz loses the upper band and 8-bit adds noise, but it is still the same speech
    assert np.corrcoef(converted[:n].astype(float), reference[:n].astype(float))[0, 1] > (0.7 if rate == 8000 else 0.98)


def test_frames_fast_cover_the_whole_file():
    source = WavSource(FRONT_LEFT, block_ms=20, realtime=False)
    frames = list(source.frames())
    assert all(len(f) == 320 and f.dtype == np.int16 for f in frames)
    assert len(frames) == -(-len(source.samples) // 320)
    assert np.array_equal(np.concatenate(frames)[: len(source.samples)], source.samples)
    assert source.status == "finished"


def test_realtime_pacing_waits_until_each_frame_has_ended():
    """With a fake clock: frame i is handed out no earlier than (i + 1) frame lengths after the start."""
    now = [100.0]
    sleeps = []

    def sleep(s):
        sleeps.append(s)
        now[0] += s

    source = WavSource(FRONT_LEFT, block_ms=10, realtime=True, clock=lambda: now[0], sleep=sleep)
    handed = [now[0] - 100.0 for _ in source.frames()]
    assert handed[:3] == pytest.approx([0.01, 0.02, 0.03])
    assert handed[-1] == pytest.approx(len(handed) * 0.01)
    assert len(sleeps) == len(handed)


def test_close_stops_the_frames():
    source = WavSource(FRONT_LEFT)
    it = source.frames()
    next(it)
    source.close()
    assert list(it) == []


def test_bad_files_give_one_line_errors(tmp_path):
    (tmp_path / "text.wav").write_text("not audio")
    cases = [
        (tmp_path / "missing.wav", "no such file"),
        (tmp_path / "text.wav", "not a usable WAV file"),
        (tmp_path, "is a directory"),
    ]
    for path, words in cases:
        with pytest.raises(AssistantError) as info:
            read_wav(path)
        assert words in str(info.value) and "\n" not in str(info.value)


def test_write_then_read_round_trip(tmp_path):
    x = (np.arange(1600) % 200 * 100).astype(np.int16)
    write_wav(tmp_path / "r.wav", x, 16000)
    y, rate = read_wav(tmp_path / "r.wav")
    assert rate == 16000 and np.array_equal(x, y)
