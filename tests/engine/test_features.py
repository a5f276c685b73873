"""The audio front end equals transformers' extractor, and the token-count rule equals the mask rule."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import Gemma4AudioFeatureExtractor

from assistant.engine.audio.features import FeatureExtractor, audio_token_count, fit_frames, mask_token_count, to_float
from assistant.errors import AssistantError


@pytest.fixture(scope="module")
def extractors() -> tuple[FeatureExtractor, Gemma4AudioFeatureExtractor]:
    settings = {"feature_extractor_type": "Gemma4AudioFeatureExtractor", "sampling_rate": 16000, "feature_size": 128}
    return FeatureExtractor(settings), Gemma4AudioFeatureExtractor()


@pytest.mark.parametrize("n", [300, 4800, 16000, 16001, 48123, 160000, 480000, 500000])
def test_features_equal_transformers(extractors, n: int) -> None:
    ours, ref = extractors
    clip = (np.random.default_rng(n).standard_normal(n) * 3000).astype(np.int16)
    got = ours(clip)
    want = ref([clip.astype(np.float32) / 32768.0], sampling_rate=16000, return_tensors="np")
    assert got.features.dtype == np.float32 and got.mask.dtype == np.bool_
    np.testing.assert_array_equal(got.features, want["input_features"])
    np.testing.assert_array_equal(got.mask, want["input_features_mask"])
    assert audio_token_count(n) == mask_token_count(got.mask[0])


def test_token_count_rule_matches_mask_rule_on_many_lengths(extractors) -> None:
    ours, _ = extractors
    rng = np.random.default_rng(0)
    for n in [*range(300, 2000, 37), *rng.integers(2000, 480000, 40).tolist()]:
        mask = ours(np.ones(n, dtype=np.int16)).mask[0]
        assert audio_token_count(n) == mask_token_count(mask), n


def test_token_count_examples() -> None:
    assert [audio_token_count(s * 16000) for s in (1, 3, 10, 30, 60)] == [25, 75, 250, 750, 750]
    assert audio_token_count(0) == 0
    assert audio_token_count(16000, max_tokens=10) == 10


def test_bad_audio_is_a_one_line_error(extractors) -> None:
    ours, _ = extractors
    with pytest.raises(AssistantError, match="empty"):
        ours(np.zeros(0, dtype=np.int16))
    with pytest.raises(AssistantError, match="mono"):
        to_float(np.zeros((2, 100), dtype=np.int16))
    with pytest.raises(AssistantError, match="int16 or float"):
        to_float(np.zeros(10, dtype=np.int32))


def test_fit_frames_pads_for_a_fixed_length_encoder(extractors) -> None:
    ours, _ = extractors
    feats = ours((np.random.default_rng(0).standard_normal(16000) * 3000).astype(np.int16))
    assert fit_frames(feats, "num_frames") is feats and fit_frames(feats, None) is feats
    padded = fit_frames(feats, 400)
    assert padded.features.shape == (1, 400, 128) and padded.mask.shape == (1, 400)
    np.testing.assert_array_equal(padded.features[:, :99], feats.features)
    assert not padded.features[:, 99:].any() and not padded.mask[:, 99:].any()
    assert mask_token_count(padded.mask[0]) == mask_token_count(feats.mask[0])
    with pytest.raises(AssistantError, match="at most 50 feature frames, the clip has 99"):
        fit_frames(feats, 50)
