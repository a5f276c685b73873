"""Larger 4-bit blocks (``model.q4_block``): the layout ONNX Runtime reads, both sources of the values,
top-1 agreement against block 32, the cache key, and one-line errors for bad values."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from assistant.config.loader import load_config
from assistant.engine.graphs import optimize
from assistant.engine.graphs.optimize import OptimizeOptions, optimize_graph, read_report
from assistant.engine.graphs.requantize import Writer, dequantize_q4, quantize_blocks, reblock, tensor_array
from assistant.errors import AssistantError
from tests.perf.test_optimize import _ids, _session, _teacher_forced_logits

Q4 = "decoder_model_merged_q4.onnx"
FP32 = "decoder_model_merged.onnx"
QUIET = lambda _m: None  # noqa: E731


def _one_matmul(k: int, n: int, block: int, codes: np.ndarray, scales: np.ndarray) -> ort.InferenceSession:
    node = helper.make_node("MatMulNBits", ["x", "B", "S"], ["y"], domain="com.microsoft", K=k, N=n, bits=4,
                            block_size=block, accuracy_level=0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [2, k])],
                              [helper.make_tensor_value_info("y", 1, [2, n])],
                              [numpy_helper.from_array(codes.reshape(n, -1, block // 2), "B"),
                               numpy_helper.from_array(scales, "S")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("block", [32, 64, 128, 256])
@pytest.mark.parametrize("k", [64, 96, 512])  # 64 and 96: K padded to a whole block
def test_block_layout_is_what_onnx_runtime_computes(block: int, k: int) -> None:
    rng = np.random.default_rng(block + k)
    weight = rng.standard_normal((k, 24)).astype(np.float32)
    x = rng.standard_normal((2, k)).astype(np.float32)
    codes, scales = quantize_blocks(weight.T.copy(), 4, block, full_range=True)
    assert codes.shape == (24, -(-k // block) * block // 2)
    values = dequantize_q4(codes.reshape(24, -1, block // 2), scales, k)
    got = _one_matmul(k, 24, block, codes, scales).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, x @ values.T, rtol=0, atol=1e-4)  # the codes mean what ORT reads
    assert np.abs(values - weight.T).max() <= np.abs(weight).max() / 8 + 1e-6  # within one step (+7 clips)


def _bare_q4_copy(model_dir: Path, dst: Path) -> Path:
    """The tiny model without its fp32 decoder: only the published 4-bit codes to requantize."""
    shutil.copytree(model_dir, dst, copy_function=shutil.copyfile)
    for name in (FP32, FP32 + "_data"):
        (dst / "onnx" / name).unlink()
    return dst


def _blocks(graph: Path) -> list[int]:
    model = onnx.load(str(graph), load_external_data=False)
    return [next(a.i for a in n.attribute if a.name == "block_size") for n in model.graph.node if n.op_type == "MatMulNBits"]


@pytest.mark.parametrize("config", ["text", "window"])
def test_larger_block_from_floats_and_from_codes(perf_tiny_dirs, tmp_path, config: str) -> None:
    model_dir = perf_tiny_dirs[config]
    bare = _bare_q4_copy(model_dir, tmp_path / "bare")
    messages: list[str] = []
    from_float = optimize_graph(model_dir / "onnx" / Q4, tmp_path / "c1", OptimizeOptions(q4_block=128), QUIET)
    from_codes = optimize_graph(bare / "onnx" / Q4, tmp_path / "c2", OptimizeOptions(q4_block=128), messages.append)
    published = len(_blocks(model_dir / "onnx" / Q4))
    assert _blocks(from_float) == _blocks(from_codes) == [128] * published
    assert read_report(from_float)["q4_block"].startswith(f"{published} MatMulNBits to block 128 ({published} from the float")
    assert f"{published} requantized from the 4-bit codes" in read_report(from_codes)["q4_block"]
    assert sum("accuracy lost twice" in m for m in messages) == 1
    # the tiny builder puts weights on the block-32 grid, so the codes dequantize to the float weights exactly:
    # both sources must give the same graph output (a wrong nibble order or scale row would not)
    ids = _ids(seed=3)
    np.testing.assert_allclose(_teacher_forced_logits(bare, from_codes, ids),
                               _teacher_forced_logits(model_dir, from_float, ids), rtol=0, atol=1e-4)


def _off_grid(model_dir: Path, dst: Path, noise: float = 0.3) -> Path:
    """A copy of the tiny model whose fp32 matmul weights are moved off the int4 grid (as a trained model's are)."""
    shutil.copytree(model_dir, dst, copy_function=shutil.copyfile)
    path = dst / "onnx" / FP32
    model = onnx.load(str(path), load_external_data=False)
    weights = {n.input[1] for n in model.graph.node if n.op_type == "MatMul"}
    rng = np.random.default_rng(0)
    for t in model.graph.initializer:
        if t.data_location != 1:
            continue
        array = np.array(tensor_array(t, path.parent))
        if t.name in weights and array.ndim == 2:
            array = array + rng.normal(0, noise * array.std(), array.shape).astype(np.float32)
        t.CopyFrom(numpy_helper.from_array(array, t.name))
    (path.parent / (FP32 + "_data")).unlink()
    onnx.save_model(model, str(path), save_as_external_data=True, location=FP32 + "_data")
    return dst


def _block32_from_floats(src: Path, out: Path) -> Path:
    """The same quantizer at the published block (not reachable through the option, which keeps 32 as published)."""
    model = onnx.load(str(src), load_external_data=False)
    out.mkdir()
    with Writer(out / (src.name + ".opt_data")) as writer:
        assert reblock(model, src, writer, 32, QUIET).from_float > 0
        optimize._set_accuracy(model, 4)
    optimize._link_shards(model, src.parent, out, src.name + ".opt_data", QUIET)
    onnx.save_model(model, str(out / src.name))
    return out / src.name


@pytest.mark.parametrize("config", ["text", "window"])
def test_top1_agreement_at_block_128_is_that_of_block_32(perf_tiny_dirs, tmp_path, config: str) -> None:
    model_dir = _off_grid(perf_tiny_dirs[config], tmp_path / "model")
    src = model_dir / "onnx" / Q4
    graphs = {32: _block32_from_floats(src, tmp_path / "b32"),
              128: optimize_graph(src, tmp_path / "c", OptimizeOptions(q4_block=128), QUIET)}
    agree: dict[int, float] = {}
    for block, graph in graphs.items():
        hits = []
        for seed in range(3):
            ids = _ids(seed=seed)
            ref = _teacher_forced_logits(model_dir, model_dir / "onnx" / FP32, ids)
            hits.append(float((_teacher_forced_logits(model_dir, graph, ids).argmax(-1) == ref.argmax(-1)).mean()))
        agree[block] = float(np.mean(hits))
    print(f"\n{config}: teacher-forced top-1 agreement with the fp32 graph, 4-bit from floats: {agree}")
    # 64-wide random layers off the grid are very sensitive to 4-bit rounding at any block (measured: text 32 0.48,
    # 128 0.43; window 32 0.35, 128 0.38): block 128 must stay at block 32's level, and both far above chance
    assert agree[128] >= agree[32] - 0.1, agree
    assert min(agree.values()) >= 0.25, agree


def test_cache_key_keeps_block_32_entries_and_follows_the_block(perf_tiny_dirs, tmp_path) -> None:
    src = perf_tiny_dirs["text"] / "onnx" / Q4
    key = optimize.cache_key(src, OptimizeOptions())
    assert key == optimize.cache_key(src, OptimizeOptions(q4_block=32))
    assert len({key, optimize.cache_key(src, OptimizeOptions(q4_block=64)),
                optimize.cache_key(src, OptimizeOptions(q4_block=128))}) == 3
    graph = optimize_graph(src, tmp_path, OptimizeOptions(q4_block=64), QUIET)
    assert set(_blocks(graph)) == {64} and _session(graph).get_inputs()


def test_bad_block_is_one_line_error(perf_tiny_dirs, tmp_path) -> None:
    with pytest.raises(AssistantError, match="q4_block must be one of 32, 64, 128, 256") as err:
        optimize_graph(perf_tiny_dirs["text"] / "onnx" / Q4, tmp_path, OptimizeOptions(q4_block=48))
    assert "\n" not in str(err.value)
    config = tmp_path / "config.toml"
    config.write_text("[model]\nq4_block = 100\n")
    with pytest.raises(AssistantError) as bad:
        load_config(str(config), environ={})
    assert "q4_block" in str(bad.value) and "\n" not in str(bad.value)
    config.write_text("[model]\nq4_block = 128\n")
    assert load_config(str(config), environ={}).model.q4_block == 128
