"""The decode loop's three ways give the same tokens and logits; the plain one never copies the KV cache."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.decoding.loopcost import run_bare, run_iobinding, run_plain
from assistant.engine.model import GemmaModel

pytestmark = pytest.mark.slow
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", prefix_cache=False)


@pytest.fixture(scope="module", params=["text", "window"])
def model(request, tiny_model_dir) -> GemmaModel:
    return GemmaModel.load(tiny_model_dir(request.param), CFG, audio=False)


def test_iobinding_and_bare_loops_equal_the_plain_loop(model: GemmaModel) -> None:
    decoder = model.decoder
    ids = list(range(20, 60))
    _, cache = decoder.forward(*decoder.embed(ids), decoder.empty_cache())
    plain = run_plain(decoder, cache, ids[-1], 24)  # past the window model's sliding window of 16
    for other in (run_iobinding(decoder, cache, ids[-1], 24), run_bare(decoder, cache, ids[-1], 24)):
        assert other.tokens == plain.tokens
        np.testing.assert_allclose(np.stack(other.logits), np.stack(plain.logits), atol=1e-5, rtol=0)
    assert len(set(plain.tokens)) > 1  # a loop stuck on one token would prove little


def test_presents_come_back_without_a_copy_and_feed_back_in_place(model: GemmaModel) -> None:
    """ONNX Runtime hands presents to numpy over its own buffers; forward leaves its input cache untouched."""
    decoder = model.decoder
    _, cache = decoder.forward(*decoder.embed([5, 6, 7]), decoder.empty_cache())
    before = {k: v.copy() for k, v in cache.arrays.items()}
    _, grown = decoder.forward(*decoder.embed([8]), cache)
    for name, arr in grown.arrays.items():
        assert not arr.flags.owndata and arr.shape[2] == 4  # a view of ORT's buffer, not a numpy copy
        np.testing.assert_array_equal(cache.arrays[name], before[name])
        np.testing.assert_array_equal(arr[:, :, :3], before[name])


def test_bench_decode_loop_reports_every_way_as_json(tiny_text_dir) -> None:
    import json

    from tests.conftest import run_cli

    proc = run_cli("bench", "decode-loop", "--model", str(tiny_text_dir), "--precision", "fp32", "--threads", "1",
                   "--steps", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("bare", "plain", "iobinding"):
        assert data[f"t1_nospin_{key}_ms_per_step"] > 0
    overhead = data["t1_nospin_plain_ms_per_step"] - data["t1_nospin_bare_ms_per_step"]
    assert data["t1_nospin_overhead_ms_per_step"] == pytest.approx(overhead, abs=2e-3)
    assert "t1_spin_plain_ms_per_step" in data


def test_bench_decode_loop_rejects_bad_threads(tiny_text_dir) -> None:
    from tests.conftest import run_cli

    proc = run_cli("bench", "decode-loop", "--model", str(tiny_text_dir), "--threads", "two")
    assert proc.returncode == 1 and "assistant: error: --threads must be" in proc.stderr and "Traceback" not in proc.stderr
