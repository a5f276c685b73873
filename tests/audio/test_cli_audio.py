"""``assistant listen`` and ``assistant bench audio`` as a user runs them."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from assistant.audio.clips import espeak
from assistant.audio.wavfile import write_wav
from tests.conftest import run_cli

from .conftest import needs_espeak


def silence(s: float) -> np.ndarray:
    return np.zeros(int(s * 16000), np.int16)


@needs_espeak
def test_listen_on_a_wav_prints_wake_word_segments_and_timings(tmp_path, clean_home):
    rng = np.random.default_rng(0)
    wake, command = espeak("okay nabu", "en-us"), espeak("turn on the kitchen light", "en-us")
    audio = np.concatenate([silence(1), wake, silence(0.3), command, silence(2), wake, silence(7)])
    audio = (audio + rng.normal(0, 100, len(audio))).astype(np.int16)
    wav = tmp_path / "session.wav"
    write_wav(wav, audio)
    result = run_cli("listen", "--wav", str(wav), "--save", str(tmp_path / "out"), env={"HOME": str(clean_home)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("WAKE okay_nabu") == 2
    assert "wake score peak 0.9" in out
    assert out.count("speech start at") == 1 and out.count("utterance ") == 1
    assert "emitted 0.70 s after its end" in out
    assert "no speech: stopped listening" in out  # the second wake word is followed by silence
    assert "summary:" in out and "wake words 2, utterances 1, no speech 1" in out
    assert (tmp_path / "out" / "utterance-001.wav").stat().st_size > 16000


def test_listen_without_wake_word_segments_recorded_speech(tmp_path, clean_home):
    wav = "/usr/share/sounds/alsa/Front_Center.wav"
    result = run_cli("listen", "--wav", wav, "--no-wake", env={"HOME": str(clean_home)})
    assert result.returncode == 0, result.stderr
    assert "wake word: off (--no-wake)" in result.stdout
    assert result.stdout.count("utterance ") == 1


def test_listen_bad_input_is_one_line(tmp_path, clean_home):
    result = run_cli("listen", "--wav", str(tmp_path / "missing.wav"), env={"HOME": str(clean_home)})
    assert result.returncode == 1
    assert result.stderr.strip() == f"assistant: error: {tmp_path / 'missing.wav'}: no such file"
    result = run_cli("listen", "--wav", "x.wav", "--score-floor", "2", env={"HOME": str(clean_home)})
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "--score-floor" in result.stderr
    config = tmp_path / "c.toml"
    config.write_text('[wakeword]\nmodel = "hey_google"\n')
    result = run_cli("--config", str(config), "listen", "--wav", "x.wav", env={"HOME": str(clean_home)})
    assert result.returncode == 1 and "unknown wake word model 'hey_google'" in result.stderr
    assert "Traceback" not in result.stderr


@needs_espeak
def test_bench_audio_json_and_table(clean_home):
    """The quick evaluation set is generated once into the state dir's cache, then reused."""
    result = run_cli("bench", "audio", "--quick", "--idle-seconds", "5", "--json", env={"HOME": str(clean_home)}, timeout=900)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("wake_tail_utterances", "lost_commands", "min_wake_detection_rate", "max_false_accepts_per_hour",
                "endpoint_delay_p95_ms_10db", "end_silence_ms", "idle_cpu_fraction_of_core_p95", "self_wakes", "self_turns"):
        assert isinstance(data[key], (int, float)), key
    assert 0 < data["idle_cpu_fraction_of_core"] < 1 and data["end_silence_ms"] == 700 and data["vad_engine"] == "silero"
    assert data["endpoint_delay_p95_ms_10db"] > 500  # at least most of the end silence, by construction
    assert set(data["wake_models"]) == {"okay_nabu", "hey_jarvis", "alexa", "hey_mycroft"}
    assert {"white 10 dB", "babble 20 dB", "music 10 dB", "fan 20 dB", "pink 10 dB"} <= set(data["conditions"])
    curve = data["threshold_curves"]["alexa"]
    assert [p[0] for p in curve] == sorted(p[0] for p in curve) and all(a[1] >= b[1] for a, b in itertools.pairwise(curve))
    assert data["wake_tail_utterances"] == 0  # the hand-over, on speakers the tests never use
    assert {"wake_tail_utterances", "lost_commands", "idle_cpu_fraction_of_core_p95"} <= set(data["targets_met"])
    assert "generating the quick evaluation set" in result.stderr
    cached = list((clean_home / ".local" / "state" / "assistant" / "cache" / "audio-eval").iterdir())
    assert len(cached) == 1 and (cached[0] / "labels.json").is_file()
    table = run_cli("bench", "audio", "--quick", "--idle-seconds", "5", env={"HOME": str(clean_home)}, timeout=900)
    assert table.returncode == 0 and "commands lost after a detected wake word" in table.stdout
    assert "  okay_nabu: threshold" in table.stdout  # one line per wake word
    assert "generating" not in table.stderr  # the set was reused


def test_listen_microphone_errors_are_one_line(tmp_path, clean_home):
    env = {"HOME": str(clean_home), "XDG_RUNTIME_DIR": str(tmp_path), "ASSISTANT_AUDIO__INPUT_DEVICE": "no-such-mic-xyz"}
    result = run_cli("listen", "--duration", "1", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("assistant: error: no audio input device matching 'no-such-mic-xyz' (there are: ")
    assert result.stderr.count("\n") == 1


def test_listen_without_any_microphone(tmp_path, clean_home):
    """Here (no sound card; no PulseAudio in this empty runtime dir) there is no input at all."""
    import subprocess
    import sys

    probe = subprocess.run(
        [sys.executable, "-c", "import sounddevice as sd; print(sum(d['max_input_channels'] > 0 for d in sd.query_devices()))"],
        env={"XDG_RUNTIME_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )
    if probe.stdout.strip() != "0":
        pytest.skip("this machine has a microphone")
    result = run_cli("listen", "--duration", "1", env={"HOME": str(clean_home), "XDG_RUNTIME_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr == (
        "assistant: error: no default audio input device: plug in a microphone or set audio.input_device "
        "(see 'assistant devices')\n"
    )
