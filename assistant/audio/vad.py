"""Voice activity detectors behind the ``Vad`` protocol: webrtcvad, and Silero on ONNX Runtime."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE, Samples

WEBRTC_FRAME = SAMPLE_RATE // 100  # webrtcvad decides on 10, 20 or 30 ms; we feed 10 ms pieces
SILERO_CHUNK = 512  # Silero v5+ at 16 kHz: 32 ms per decision
SILERO_CONTEXT = 64  # samples of the previous chunk the model sees in front of each chunk
# Silero's probability falls a while after speech ends: 0.11 s median, 0.17-0.19 s p95 on
# espeak-ng speech in white/pink/recorded noise at 5-30 dB SNR (docs/BENCHMARKS.md).
SILERO_HANGOVER_S = 0.13


# webrtcvad keeps saying "speech" for a while after speech ends (its "overhang", in 10 ms
# frames after a run of speech, by mode: WebRTC common_audio/vad/vad_core.c kOverHangMax2*).
WEBRTC_HANGOVER_S = {0: 0.14, 1: 0.14, 2: 0.09, 3: 0.09}


class WebRtcVad:
    """webrtcvad (GMM based): a frame is speech when most of its 10 ms pieces are."""

    def __init__(self, aggressiveness: int = 2) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(int(aggressiveness))
        self.hangover_s = WEBRTC_HANGOVER_S[int(aggressiveness)]

    def is_speech(self, frame: Samples) -> bool:
        pieces = len(frame) // WEBRTC_FRAME
        if pieces == 0:
            return False
        data = np.ascontiguousarray(frame[: pieces * WEBRTC_FRAME], dtype=np.int16).tobytes()
        step = WEBRTC_FRAME * 2
        voiced = sum(self._vad.is_speech(data[i : i + step], SAMPLE_RATE) for i in range(0, len(data), step))
        return voiced * 2 > pieces

    def reset(self) -> None:
        """webrtcvad keeps only slowly adapting noise estimates; nothing to clear."""


def default_silero_model() -> Path:
    """The ONNX file shipped in the ``silero-vad`` package, found without importing it (it imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise AssistantError(
            "vad.engine = 'silero' needs the silero-vad package: pip install --no-deps silero-vad "
            "(or set vad.silero_model to a silero_vad.onnx file)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"


class SileroVad:
    """Silero VAD (v5/v6 ONNX) on ONNX Runtime, one thread, no torch.

    The model decides on 32 ms chunks; frames are buffered and each frame gets the latest
    decision, with hysteresis (speech ends below ``threshold - 0.15``) as Silero recommends.
    """

    def __init__(self, model_path: str | Path = "", threshold: float = 0.5) -> None:
        import onnxruntime as ort

        path = Path(model_path) if model_path else default_silero_model()
        if not path.is_file():
            raise AssistantError(f"Silero VAD model not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises several private exception types
            raise AssistantError(f"{path}: not a Silero VAD model ({str(err).splitlines()[0]})") from None
        self.threshold = threshold
        self.hangover_s = SILERO_HANGOVER_S
        self._off = max(0.01, threshold - 0.15)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(SILERO_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._speaking = False
        self.probability = 0.0

    def _run(self, chunk: np.ndarray) -> float:
        x = np.concatenate([self._context, chunk])[None, :]
        feeds: dict[str, Any] = {"input": x, "state": self._state, "sr": self._sr}
        out, self._state = self._session.run(None, feeds)
        self._context = chunk[-SILERO_CONTEXT:]
        return float(out[0, 0])

    def is_speech(self, frame: Samples) -> bool:
        self._pending = np.concatenate([self._pending, frame.astype(np.float32) / 32768.0])
        while len(self._pending) >= SILERO_CHUNK:
            self.probability = self._run(self._pending[:SILERO_CHUNK])
            self._pending = self._pending[SILERO_CHUNK:]
            if self.probability >= self.threshold:
                self._speaking = True
            elif self.probability < self._off:
                self._speaking = False
        return self._speaking
