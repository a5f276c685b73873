"""Wake word: microWakeWord's bundled models (hey_jarvis with openWakeWord's beside it) or a user's
openWakeWord model, and a ``Detector``.

Models implement ``assistant.protocols.WakeWord`` (``predict(frame) -> score``). The
``Detector`` turns scores into decisions: threshold, refractory period, and a gate while the
assistant itself speaks (off, or a stricter threshold so only a clear wake word barges in).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config.schema import WAKE_MODELS, WakeWordConfig
from assistant.errors import AssistantError
from assistant.protocols import SAMPLE_RATE, Samples, WakeWord


class MicroWakeWordModel:
    """A bundled microWakeWord model (pymicro-wakeword: TFLite, 10 ms features, 30 ms steps)."""

    def __init__(self, name: str) -> None:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

        if name not in WAKE_MODELS:
            raise AssistantError(f"unknown wake word model {name!r} (bundled: {', '.join(WAKE_MODELS)})")
        self.name = name
        self._model = MicroWakeWord.from_builtin(Model(name))
        self._features = MicroWakeWordFeatures()
        self._score = 0.0
        self._pending = 0  # feature windows given since the model last ran

    def predict(self, frame: Samples) -> float:
        for features in self._features.process_streaming(np.ascontiguousarray(frame, dtype=np.int16).tobytes()):
            prob = self._model.process_streaming_prob(features)
            # The model runs once per ``stride`` windows and answers 0.0 in between: keep the last real score.
            self._pending += 1
            if prob is not None and self._pending >= self._model.stride:
                self._score = float(prob)
                self._pending = 0
        return self._score

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()
        self._score = 0.0
        self._pending = 0


class OpenWakeWordModel:
    """A user's openWakeWord model (.tflite, or .onnx on ONNX Runtime) on pyopen-wakeword's front end."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise AssistantError(f"wake word model not found: {self.path}")
        if self.path.suffix not in (".tflite", ".onnx"):
            raise AssistantError(f"{self.path}: an openWakeWord model must be a .tflite or .onnx file")
        try:
            from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures
        except ImportError:
            raise AssistantError("openWakeWord models need pyopen-wakeword: pip install pyopen-wakeword") from None
        self.name = self.path.stem
        self._features = OpenWakeWordFeatures.from_builtin()
        self._tflite: Any = None
        self._onnx: Any = None
        if self.path.suffix == ".tflite":
            self._tflite = OpenWakeWord.from_model(self.path)
        else:
            self._onnx = _OnnxHead(self.path)
        self._score = 0.0

    def predict(self, frame: Samples) -> float:
        for embeddings in self._features.process_streaming(np.ascontiguousarray(frame, dtype=np.int16).tobytes()):
            head = self._tflite or self._onnx
            for prob in head.process_streaming(embeddings):
                self._score = float(prob)
        return self._score

    def reset(self) -> None:
        self._features.reset()
        (self._tflite or self._onnx).reset()
        self._score = 0.0


class _OnnxHead:
    """An openWakeWord classifier in ONNX form: [1, windows, 96] embeddings -> [1, 1] probability."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises private exception types
            raise AssistantError(f"{path}: cannot load ONNX model ({str(err).splitlines()[0]})") from None
        shape = self._session.get_inputs()[0].shape
        if len(shape) != 3 or not isinstance(shape[1], int) or shape[2] != 96:
            raise AssistantError(f"{path}: not an openWakeWord model (input shape {shape}, want [1, N, 96])")
        self._input = self._session.get_inputs()[0].name
        self._windows = int(shape[1])
        self.reset()

    def reset(self) -> None:
        self._buffer = np.zeros((0, 96), dtype=np.float32)

    def process_streaming(self, embeddings: np.ndarray) -> list[float]:
        self._buffer = np.concatenate([self._buffer, embeddings.reshape(-1, 96).astype(np.float32)])[-self._windows - 8 :]
        if len(self._buffer) < self._windows:
            return []
        x = self._buffer[-self._windows :][None, :, :]
        return [float(np.asarray(self._session.run(None, {self._input: x})[0]).reshape(-1)[0])]


class EitherModel:
    """Two models of one phrase; the score is the higher of theirs (either may wake the assistant)."""

    def __init__(self, name: str, models: list[WakeWord]) -> None:
        self.name = name
        self.models = models

    def predict(self, frame: Samples) -> float:
        return max(m.predict(frame) for m in self.models)

    def reset(self) -> None:
        for m in self.models:
            m.reset()


# Bundled phrases that also run openWakeWord's model of the same phrase (the one pyopen-wakeword ships),
# on the higher of the two scores. On the evaluation set microWakeWord's hey_jarvis ignores whole voices
# (most male espeak-ng ones) that openWakeWord's hears: 64 -> 88 % detection at <= 0.5 false accepts per
# hour, for about 1.3 % of a core more (docs/BENCHMARKS.md, "The ear"). For the other phrases openWakeWord's
# models added nothing there.
SECOND_OPINION = frozenset({"hey_jarvis"})


def bundled_openwakeword(name: str) -> Path:
    """openWakeWord's model of a bundled phrase, from the pyopen-wakeword package."""
    spec = importlib.util.find_spec("pyopen_wakeword")
    if spec is None or not spec.submodule_search_locations:
        raise AssistantError(f"the bundled wake word {name!r} needs pyopen-wakeword: pip install pyopen-wakeword")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / f"{name}.tflite"


def bundled(name: str) -> WakeWord:
    """A bundled wake word: its microWakeWord model, with openWakeWord's beside it for ``SECOND_OPINION``."""
    micro = MicroWakeWordModel(name)
    if name not in SECOND_OPINION:
        return micro
    return EitherModel(name, [micro, OpenWakeWordModel(bundled_openwakeword(name))])


def load_wakeword(model: str) -> WakeWord:
    """A bundled model by name, or an openWakeWord model file by path."""
    if model in WAKE_MODELS:
        return bundled(model)
    if model.endswith((".tflite", ".onnx")) or "/" in model:
        return OpenWakeWordModel(model)
    raise AssistantError(f"unknown wake word model {model!r} (bundled: {', '.join(WAKE_MODELS)}, or a .tflite/.onnx path)")


# Each bundled model's threshold, chosen on the evaluation set (``assistant bench audio``;
# docs/BENCHMARKS.md, "The ear"): the best detection at <= 0.5 false accepts per hour.
TUNED_THRESHOLDS = {"okay_nabu": 0.45, "hey_jarvis": 0.45, "alexa": 0.3, "hey_mycroft": 0.3}
DEFAULT_THRESHOLD = 0.5  # a user's own model


def threshold_for(config: WakeWordConfig, model: str | None = None) -> float:
    """``wakeword.threshold``, or with 0 (the default) the bundled model's tuned threshold."""
    if config.threshold > 0:
        return config.threshold
    return TUNED_THRESHOLDS.get(model or config.model, DEFAULT_THRESHOLD)


class Detector:
    """Threshold, refractory period and self-speech gating around a ``WakeWord`` model."""

    def __init__(self, model: WakeWord, config: WakeWordConfig | None = None) -> None:
        self.model = model
        self.config = config or WakeWordConfig()
        self.threshold = threshold_for(self.config, getattr(model, "name", None))
        self.score = 0.0
        self._t = 0.0
        self._last_fire = float("-inf")
        self._gated = False
        self._gate_until = float("-inf")
        self._armed = True  # fires once per rise of the score above the threshold

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def t(self) -> float:
        """Seconds of audio seen so far."""
        return self._t

    @property
    def gated(self) -> bool:
        return self._gated or self._t < self._gate_until

    def gate(self, on: bool) -> None:
        """Gate while the assistant speaks; the gate stays ``gate_tail_s`` after it is lifted."""
        if self._gated and not on:
            self._gate_until = self._t + self.config.gate_tail_s
        self._gated = on

    def detect(self, frame: Samples) -> bool:
        """Feed one frame; True once when the wake word is heard."""
        self._t += len(frame) / SAMPLE_RATE
        self.score = self.model.predict(frame)
        if self.score < self.threshold:
            self._armed = True
        if not self._armed or self._t - self._last_fire < self.config.refractory_s:
            return False
        if self.gated:
            if not self.config.barge_in:
                return False
            threshold = max(self.threshold, self.config.barge_in_threshold)
        else:
            threshold = self.threshold
        if self.score >= threshold:
            self._last_fire = self._t
            self._armed = False
            return True
        return False
