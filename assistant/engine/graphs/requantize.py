"""Block quantization for ``MatMulNBits`` and the re-blocking of a graph's 4-bit weights.

``quantize_blocks`` writes the ``MatMulNBits`` layout (symmetric, zero point ``2^(bits-1)``, K padded
with zeros to a whole block). ``reblock`` moves every 4-bit block-32 ``MatMulNBits`` of a graph to a
larger block (64, 128 or 256: fewer scales, and ONNX Runtime's int8-compute kernels run faster on
long blocks). The values come from a float graph of the same export beside the source
(``<name>.onnx`` or ``<name>_fp16.onnx`` for ``<name>_q4.onnx``) when it holds the node's weight;
otherwise the published 4-bit codes are dequantized and quantized again, which loses accuracy twice
(logged once). Weights are streamed one initializer at a time, in row chunks of at most 64 MiB.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError

log = logging.getLogger("assistant.engine")

PUBLISHED_BLOCK = 32
BLOCKS = (32, 64, 128, 256)
_CHUNK_BYTES = 64 << 20
_DTYPES = {1: np.float32, 10: np.float16, 2: np.uint8}
Rows = Callable[[int, int], np.ndarray]


def quantize_blocks(rows: np.ndarray, bits: int, block: int = PUBLISHED_BLOCK,
                    full_range: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric block quantization of ``[N, K]``: codes ``uint8 [N, ceil(K/block) * block*bits/8]`` and
    scales ``float32 [N * ceil(K/block)]`` (zero point 2^(bits-1), K padded with zeros): codes +-7 (+-127),
    or with ``full_range`` at 4 bits ONNX Runtime's ``MatMulNBitsQuantizer`` scheme (scale = signed peak / -8,
    codes -8..7: 16 levels; the LM head keeps +-7 as before, re-blocked weights use this)."""
    n, k = rows.shape
    pad = (-k) % block
    if pad:
        rows = np.pad(rows, ((0, 0), (0, pad)))
    blocks = rows.reshape(n, -1, block)
    half = 8 if bits == 4 else 128
    if bits == 4 and full_range:  # as ONNX Runtime's quantizer: the value of largest magnitude maps to -8, 16 levels used
        idx = np.abs(blocks).argmax(axis=-1)[..., None]
        peak = np.take_along_axis(blocks, idx, axis=-1)[..., 0]
        scale = np.where(peak != 0, peak / -half, 1.0).astype(np.float32)
    else:
        peak = np.abs(blocks).max(axis=-1)
        scale = np.where(peak > 0, peak / (half - 1), 1.0).astype(np.float32)
    q = np.clip(np.rint(blocks / scale[..., None]), -half + (not full_range), half - 1).astype(np.int16) + half
    q = q.astype(np.uint8)
    if bits == 4:
        q = q[..., 0::2] | (q[..., 1::2] << 4)
    return q.reshape(n, -1), scale.reshape(-1)


def dequantize_q4(codes: np.ndarray, scales: np.ndarray, k: int) -> np.ndarray:
    """``float32 [rows, K]`` from symmetric 4-bit codes ``[rows, blocks, block/2]`` and scales ``[rows * blocks]``."""
    rows, blocks, half = codes.shape
    q = np.empty((rows, blocks, half * 2), np.int8)
    q[..., 0::2] = codes & 15
    q[..., 1::2] = codes >> 4
    values = (q.astype(np.float32) - 8) * np.asarray(scales, np.float32).reshape(rows, blocks, 1)
    return values.reshape(rows, -1)[:, :k]


def tensor_array(tensor: Any, base: Path) -> np.ndarray:
    """A read-only view of an initializer (float32, float16 or uint8): memory-mapped when external."""
    from onnx import numpy_helper

    shape = tuple(int(d) for d in tensor.dims)
    if tensor.data_location == 1:  # EXTERNAL
        dtype = _DTYPES.get(tensor.data_type)
        if dtype is None:
            raise AssistantError(f"{base}: initializer {tensor.name!r} has an unexpected data type {tensor.data_type}")
        meta = {e.key: e.value for e in tensor.external_data}
        path = (base / meta["location"]).resolve()
        if base.resolve() not in path.parents:
            raise AssistantError(f"{base}: external data {meta['location']!r} lies outside the model folder")
        return np.memmap(path, dtype=dtype, mode="r", offset=int(meta.get("offset", 0)), shape=shape)
    return np.asarray(numpy_helper.to_array(tensor))


class Writer:
    """Writes new initializers to one external-data file, 64 KiB aligned, and describes them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("wb")
        self.offset = 0

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()
        if self.offset == 0:
            self.path.unlink()

    def _append(self, arrays: Any) -> tuple[int, int]:
        pad = (-self.offset) % 65536
        self.fh.write(b"\0" * pad)
        self.offset += pad
        start = self.offset
        for arr in arrays:
            raw = np.ascontiguousarray(arr).tobytes()
            self.fh.write(raw)
            self.offset += len(raw)
        return start, self.offset - start

    def _tensor(self, name: str, data_type: int, dims: list[int], span: tuple[int, int]) -> Any:
        from onnx import TensorProto

        t = TensorProto(name=name, data_type=data_type, dims=dims, data_location=TensorProto.EXTERNAL)
        for key, value in (("location", self.path.name), ("offset", str(span[0])), ("length", str(span[1]))):
            e = t.external_data.add()
            e.key, e.value = key, value
        return t

    def blockwise(self, name: str, rows_of: Rows, n: int, k: int, bits: int, block: int,
                  scale_type: int = 1, full_range: bool = False) -> tuple[Any, Any]:
        """MatMulNBits B ``uint8 [N, ceil(K/block), block*bits/8]`` and scales ``[N * blocks]`` of the
        ``[N, K]`` matrix that ``rows_of(start, stop)`` yields in row chunks (float32)."""
        from onnx import TensorProto

        scales: list[np.ndarray] = []
        step = max(1, _CHUNK_BYTES // (4 * k))
        scale_dtype = np.float16 if scale_type == 10 else np.float32

        def codes() -> Iterator[np.ndarray]:
            for start in range(0, n, step):
                q, s = quantize_blocks(np.asarray(rows_of(start, min(n, start + step)), np.float32), bits, block, full_range)
                scales.append(s.astype(scale_dtype))
                yield q

        b_span = self._append(codes())
        s_span = self._append(scales)
        blocks = -(-k // block)
        b = self._tensor(f"{name}.B{bits}b{block}", TensorProto.UINT8, [n, blocks, block * bits // 8], b_span)
        s = self._tensor(f"{name}.scales_b{block}", scale_type, [n * blocks], s_span)
        return b, s

    def quantized(self, name: str, matrix: np.ndarray, bits: int, block: int = PUBLISHED_BLOCK) -> tuple[Any, Any]:
        """``matrix [K, N]`` (a float MatMul weight) in MatMulNBits layout."""
        k, n = matrix.shape
        return self.blockwise(name, lambda a, b: np.asarray(matrix[:, a:b], np.float32).T, n, k, bits, block)


@dataclass
class Reblocked:
    """What ``reblock`` did: nodes moved, from which values, and nodes left alone."""

    nodes: int = 0
    from_float: int = 0
    requantized: int = 0
    skipped: int = 0

    def describe(self, block: int) -> str:
        if not self.nodes:
            return f"no 4-bit block-{PUBLISHED_BLOCK} MatMulNBits to move to block {block}"
        return (f"{self.nodes} MatMulNBits to block {block} ({self.from_float} from the float graph, "
                f"{self.requantized} requantized from the 4-bit codes, {self.skipped} left as published)")


def float_sibling(src: Path) -> Path | None:
    """The fp32 (or fp16) graph of the same export beside a q4 graph, if the folder holds one."""
    base = re.sub(r"_(q4f16|q4)$", "", src.stem)
    if base == src.stem:
        return None
    for name in (base + ".onnx", base + "_fp16.onnx"):
        if (src.parent / name).is_file():
            return src.parent / name
    return None


def _float_weights(path: Path | None) -> dict[str, Any]:
    import onnx

    if path is None:
        return {}
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf raises several types for a bad file
        raise AssistantError(f"{path}: cannot read the float graph to requantize from ({str(err)[:120]})") from err
    return {t.name: t for t in model.graph.initializer if t.data_type in (1, 10) and len(t.dims) == 2}


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _float_rows(matrix: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.asarray(matrix[:, a:b], np.float32).T


def _q4_rows(codes: np.ndarray, scales: np.ndarray, k: int, a: int, b: int) -> np.ndarray:
    return dequantize_q4(np.asarray(codes[a:b]), np.asarray(scales[a:b]).reshape(-1), k)


def reblock(model: Any, src: Path, writer: Writer, block: int, say: Callable[[str], None]) -> Reblocked:
    """Move every 4-bit block-32 symmetric ``MatMulNBits`` of ``model`` (read from ``src``) to ``block``."""
    import onnx

    done = Reblocked()
    inits = {t.name: t for t in model.graph.initializer}
    sibling = float_sibling(src)
    floats = _float_weights(sibling)
    replaced: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "MatMulNBits":
            continue
        attrs = _attrs(node)
        k, n = int(attrs["K"]), int(attrs["N"])
        b_init, s_init = inits.get(node.input[1]), inits.get(node.input[2]) if len(node.input) > 2 else None
        zero_points = len(node.input) > 3 and any(node.input[3:])
        if (attrs.get("bits", 4) != 4 or attrs.get("block_size") != PUBLISHED_BLOCK or zero_points
                or b_init is None or s_init is None or s_init.data_type not in (1, 10)):
            done.skipped += 1
            continue
        weight = floats.get(node.input[1].removesuffix("_Q4"))
        if weight is not None and [int(d) for d in weight.dims] == [k, n]:
            rows_of: Rows = partial(_float_rows, tensor_array(weight, sibling.parent if sibling else src.parent))
            done.from_float += 1
        else:
            codes = tensor_array(b_init, src.parent).reshape(n, -1, PUBLISHED_BLOCK // 2)
            rows_of = partial(_q4_rows, codes, tensor_array(s_init, src.parent).reshape(n, -1), k)
            done.requantized += 1
        b_new, s_new = writer.blockwise(node.input[1].removesuffix("_Q4"), rows_of, n, k, 4, block, s_init.data_type, True)
        model.graph.initializer.extend([b_new, s_new])
        node.input[1], node.input[2] = b_new.name, s_new.name
        kept = [a for a in node.attribute if a.name != "block_size"]
        del node.attribute[:]
        node.attribute.extend([*kept, onnx.helper.make_attribute("block_size", block)])
        done.nodes += 1
        replaced.update((b_init.name, s_init.name))
    used = {i for node in model.graph.node for i in node.input}
    for t in [t for t in model.graph.initializer if t.name in replaced - used]:
        model.graph.initializer.remove(t)
    if done.requantized:
        say(f"  {src.name}: {done.requantized} weights requantized from the published 4-bit codes to block {block} "
            f"(accuracy lost twice: put the fp32 or fp16 graph beside it to quantize from floats)")
    return done
