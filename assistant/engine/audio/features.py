"""Audio front end: 16 kHz samples -> log-mel features and mask, and the audio token count.

Uses transformers' ``Gemma4AudioFeatureExtractor`` (numpy only) for the spectrogram. Its
``__call__`` pads through ``SequenceFeatureExtractor.pad``, which imports torch whenever
torch is installed (to test for torch tensors), so the padding and truncation of that call
are done here with the same rules and the extractor's spectrogram step is called directly.
``tests/engine/test_features.py`` checks the result equals ``extractor(...)`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.errors import AssistantError

SAMPLE_RATE = 16000
MAX_SAMPLES = 480_000  # the extractor's max_length: 30 s
PAD_MULTIPLE = 128  # the extractor's pad_to_multiple_of


def audio_token_count(n_samples: int, max_tokens: int = 750, frame: int = 320, hop: int = 160) -> int:
    """Soft tokens the encoder yields for ``n_samples`` (25 per second, at most ``max_tokens``).

    Mel frames with semicausal padding, then two stride-2 subsamplings (the processor's mask rule).
    """
    n = min(n_samples, MAX_SAMPLES)
    frames = (n + hop - frame - 1) // hop + 1 if n > 0 else 0
    for _ in range(2):
        frames = (frames - 1) // 2 + 1 if frames > 0 else 0
    return max(0, min(frames, max_tokens))


def mask_token_count(mask: npt.NDArray[np.bool_], max_tokens: int = 750) -> int:
    """The same count from a feature mask (``mask[::2][::2].sum()``)."""
    return min(int(np.asarray(mask)[::2][::2].sum()), max_tokens)


@dataclass(frozen=True)
class AudioFeatures:
    features: npt.NDArray[np.float32]  # [1, frames, mel]
    mask: npt.NDArray[np.bool_]  # [1, frames]


def to_float(samples: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """int16 PCM (or float in [-1, 1]) as float32 in [-1, 1]."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise AssistantError(f"audio must be mono 1-D samples, got shape {arr.shape}")
    if arr.dtype == np.int16:
        return arr.astype(np.float32) / 32768.0
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    raise AssistantError(f"audio must be int16 or float samples, got {arr.dtype}")


class FeatureExtractor:
    """``Gemma4AudioFeatureExtractor`` configured from processor_config.json."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from transformers import Gemma4AudioFeatureExtractor

        known = {k: v for k, v in settings.items() if k not in ("feature_extractor_type", "processor_class")}
        known.pop("chunk_duration", None)
        known.pop("overlap_duration", None)
        self._fe = Gemma4AudioFeatureExtractor(**known)
        if self._fe.sampling_rate != SAMPLE_RATE:
            raise AssistantError(f"the model's feature extractor expects {self._fe.sampling_rate} Hz, not {SAMPLE_RATE}")

    @property
    def feature_size(self) -> int:
        return int(self._fe.feature_size)

    def __call__(self, samples: npt.NDArray[Any]) -> AudioFeatures:
        """Features for one clip (longer than 30 s is cut to 30 s, as transformers does)."""
        wave = to_float(samples)[:MAX_SAMPLES]
        if wave.size == 0:
            raise AssistantError("the audio clip is empty")
        padded_len = -(-wave.size // PAD_MULTIPLE) * PAD_MULTIPLE
        padded = np.zeros((1, padded_len), dtype=np.float32)
        padded[0, : wave.size] = wave
        sample_mask = np.zeros(padded_len, dtype=np.int32)
        sample_mask[: wave.size] = 1
        spec, mask = self._fe._extract_spectrogram(padded, sample_mask)
        spec = spec.astype(np.float32) * mask[:, None]
        return AudioFeatures(spec[None].astype(np.float32), mask[None].astype(np.bool_))


def fit_frames(feats: AudioFeatures, frames: int | str | None) -> AudioFeatures:
    """Pad features (mask False) to a graph's fixed frame count; a symbolic count takes them as they are."""
    if not isinstance(frames, int) or frames <= 0:
        return feats
    have = feats.features.shape[1]
    if have > frames:
        raise AssistantError(f"the audio encoder takes at most {frames} feature frames, the clip has {have}")
    if have == frames:
        return feats
    pad = frames - have
    return AudioFeatures(
        np.pad(feats.features, ((0, 0), (0, pad), (0, 0))),
        np.pad(feats.mask, ((0, 0), (0, pad)), constant_values=False),
    )
