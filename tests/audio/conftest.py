"""Fixtures for the audio tests: labelled speech clips and a real PulseAudio null sink."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.clips import Clip, spoken_clip
from assistant.protocols import SAMPLE_RATE, AudioSource, Samples

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
needs_silero = pytest.mark.skipif(
    importlib.util.find_spec("silero_vad") is None, reason="silero-vad is not installed (pip install --no-deps silero-vad)"
)
needs_oww = pytest.mark.skipif(
    importlib.util.find_spec("pyopen_wakeword") is None, reason="pyopen-wakeword is not installed (pip install pyopen-wakeword)"
)


@pytest.fixture(scope="session")
def clip_cache() -> dict[tuple, Clip]:
    return {}


@pytest.fixture
def clip(clip_cache):
    """``clip(text, voice, **place_kwargs)``: an espeak-ng clip, generated once per session."""

    def make(text: str, voice: str = "en-us", **kwargs) -> Clip:
        key = (text, voice, tuple(sorted(kwargs.items())))
        if key not in clip_cache:
            clip_cache[key] = spoken_clip(text, voice, **kwargs)
        return clip_cache[key]

    return make


def frames_of(samples: Samples, n: int = 160) -> Iterator[Samples]:
    for i in range(0, len(samples) - n + 1, n):
        yield samples[i : i + n]


def best_correlation(a: Samples, b: Samples) -> float:
    """Peak normalised cross-correlation of ``b`` against ``a`` over every lag (either may lead)."""
    b64 = b.astype(np.float64)
    a64 = np.concatenate([np.zeros(len(b64)), a.astype(np.float64), np.zeros(len(b64))])
    size = 1 << int(np.ceil(np.log2(len(a64) + len(b64))))
    full = np.fft.irfft(np.fft.rfft(a64, size) * np.conj(np.fft.rfft(b64, size)), size)
    corr = full[: len(a64) - len(b64) + 1]  # FFT cross-correlation: np.correlate is far too slow here
    best = 0.0
    for lag in np.argsort(corr)[-5:]:
        seg = a64[lag : lag + len(b64)]
        denom = np.linalg.norm(seg) * np.linalg.norm(b64)
        if denom:
            best = max(best, float(np.dot(seg, b64) / denom))
    return best


@dataclass
class Recorder:
    """Reads a source's frames on a thread, remembering each with the source status at that moment."""

    source: AudioSource
    frames: list[Samples] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for frame in self.source.frames():
            self.frames.append(frame)
            self.statuses.append(getattr(self.source, "status", ""))

    def audio(self, since: int = 0) -> Samples:
        return np.concatenate(self.frames[since:]) if len(self.frames) > since else np.zeros(0, np.int16)

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def stop(self) -> None:
        self.source.close()
        self._thread.join(timeout=5)


class Pulse:
    """A private PulseAudio server with a null sink ``spk`` whose monitor is the default source."""

    def __init__(self, runtime: Path) -> None:
        self.runtime = runtime
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--disallow-exit",
             "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=spk rate=48000",
             "--log-level=error"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self._log(),
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.runtime / "pulseaudio.log").read_text(errors="replace")
                raise RuntimeError(f"pulseaudio exited: {log[-300:].strip()}")
            if self.pactl("info", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("pulseaudio did not answer within 15 s")

    def _log(self):
        self._log_file = (self.runtime / "pulseaudio.log").open("ab")
        return self._log_file

    def stop(self) -> None:
        if getattr(self, "_log_file", None):
            self._log_file.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, check=check, timeout=10)

    def play(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", "--device=spk", str(wav)], env=self.env)

    def unload_sink(self) -> None:
        self.pactl("unload-module", "module-null-sink")

    def load_sink(self) -> None:
        self.pactl("load-module", "module-null-sink", "sink_name=spk", "rate=48000")
        self.pactl("set-default-source", "spk.monitor")
        self.pactl("set-default-sink", "spk")


def _reinit_portaudio() -> None:
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


@pytest.fixture(scope="module")
def pulse(tmp_path_factory) -> Iterator[Pulse]:
    """A running PulseAudio with a null sink, seen by sounddevice as the ALSA device 'pulse'."""
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt install pulseaudio pulseaudio-utils)")
    runtime = tmp_path_factory.mktemp("pulse")
    runtime.chmod(0o700)
    server = Pulse(runtime)
    try:
        server.start()
    except RuntimeError as err:
        pytest.skip(f"PulseAudio cannot start here: {err}")
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR",)}
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    _reinit_portaudio()
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reinit_portaudio()


def seconds(n: int) -> float:
    return n / SAMPLE_RATE
