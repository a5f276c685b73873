"""Text to speech: espeak-ng (always there, offline) and Piper when a voice file is configured."""

from __future__ import annotations

import logging
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config.schema import TtsConfig
from assistant.errors import AssistantError
from assistant.protocols import AudioChunk, Tts

log = logging.getLogger("assistant.audio.tts")

CHUNK_SAMPLES = 2048  # about 90 ms at espeak-ng's 22050 Hz


class EspeakTts:
    """espeak-ng as a subprocess writing a WAV stream to stdout; chunks are yielded as they come."""

    def __init__(self, voice: str = "en-us", rate_wpm: int = 170) -> None:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise AssistantError("espeak-ng not found: install it with 'sudo apt install espeak-ng'")
        self._exe, self.voice, self.rate_wpm = exe, voice, rate_wpm

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        if not text.strip():
            return
        cmd = [self._exe, "-v", self.voice, "-s", str(self.rate_wpm), "--stdout", "--stdin"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin and proc.stdout and proc.stderr
        try:
            proc.stdin.write(text.encode("utf-8"))
            proc.stdin.close()
            rate = _read_wav_header(proc.stdout)
            if rate is None:
                proc.wait(timeout=10)
                err = proc.stderr.read().decode(errors="replace").strip().splitlines()
                raise AssistantError(f"espeak-ng failed (voice {self.voice!r}): {err[0] if err else 'no audio'}")
            while data := proc.stdout.read(CHUNK_SAMPLES * 2):
                samples = np.frombuffer(data[: len(data) // 2 * 2], dtype=np.int16)
                if len(samples):
                    yield AudioChunk(samples=samples, sample_rate=rate)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()


def _read_wav_header(stream: Any) -> int | None:
    """Read a streamed WAV header up to the data chunk; the sample rate, or None if no audio."""
    riff = stream.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        return None
    rate = None
    while True:
        head = stream.read(8)
        if len(head) < 8:
            return None
        kind, size = head[:4], struct.unpack("<I", head[4:])[0]
        if kind == b"data":
            return rate
        body = stream.read(size)
        if kind == b"fmt ":
            channels, rate, bits = struct.unpack("<H", body[2:4])[0], struct.unpack("<I", body[4:8])[0], body[14]
            if channels != 1 or bits != 16:
                return None


class PiperTts:
    """A Piper voice (.onnx with its .onnx.json) through the piper-tts package."""

    def __init__(self, model: str | Path) -> None:
        path = Path(model).expanduser()
        if not path.is_file():
            raise AssistantError(f"Piper voice not found: {path}")
        if not Path(f"{path}.json").is_file():
            raise AssistantError(f"Piper voice config not found: {path}.json (it must sit beside the .onnx)")
        try:
            from piper import PiperVoice
        except ImportError:
            raise AssistantError("tts.engine = 'piper' needs piper-tts: pip install piper-tts") from None
        try:
            self._voice = PiperVoice.load(str(path))
        except Exception as err:  # piper/onnxruntime raise many kinds
            raise AssistantError(f"{path}: cannot load Piper voice ({str(err).splitlines()[0]})") from None

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        for chunk in self._voice.synthesize(text):
            yield AudioChunk(samples=chunk.audio_int16_array, sample_rate=chunk.sample_rate)


def make_tts(config: TtsConfig) -> Tts:
    """The configured synthesiser; a Piper voice that cannot load falls back to espeak-ng if allowed."""
    if config.engine == "piper":
        try:
            if not config.piper_model:
                raise AssistantError("tts.engine = 'piper' needs tts.piper_model (a .onnx voice file)")
            return PiperTts(config.piper_model)
        except AssistantError as err:
            if not config.fallback:
                raise
            log.warning("%s; speaking with espeak-ng instead", err)
    return EspeakTts(config.voice, config.rate_wpm)
