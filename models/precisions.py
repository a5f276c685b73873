"""Reduced-precision variants of an exported fp32 graph, named like the published files.

| precision   | file suffix   | how                                                                   | float I/O |
|-------------|---------------|-----------------------------------------------------------------------|-----------|
| fp32        | (none)        | the export itself                                                     | float32   |
| fp16        | `_fp16`       | ``onnxruntime.transformers.float16.convert_float_to_float16``         | float16   |
| q4          | `_q4`         | ``MatMulNBitsQuantizer`` block 32, symmetric: MatMul -> MatMulNBits,  | float32   |
|             |               | Gather -> GatherBlockQuantized (embedding tables)                     |           |
| q4f16       | `_q4f16`      | q4 of the fp32 graph, then the fp16 conversion                        | float16   |
| quantized   | `_quantized`  | ``quantize_dynamic`` int8 (uint8 weights; MatMul, Gather, Conv)       | float32   |

Integer and bool I/O never change. fp16 and q4f16 keep no float32 I/O (``keep_io_types=False``):
the contract expects float16 outputs there, so a runtime must cast by session metadata.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from onnxruntime.transformers.float16 import convert_float_to_float16

from models.export_onnx import save_external
from models.names import PRECISIONS, SUFFIX

Q4_BLOCK = 32


def graph_path(onnx_dir: Path, graph: str, precision: str) -> Path:
    """``onnx/<graph><suffix>.onnx`` for a precision name."""
    return onnx_dir / f"{graph}{SUFFIX[precision]}.onnx"


def _fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    return convert_float_to_float16(model, keep_io_types=False, disable_shape_infer=True)


def _q4(model: onnx.ModelProto) -> onnx.ModelProto:
    quantizer = MatMulNBitsQuantizer(model, bits=4, block_size=Q4_BLOCK, is_symmetric=True,
                                     op_types_to_quantize=("MatMul", "Gather"))
    quantizer.process()
    return quantizer.model.model


def _quantized(src: Path) -> onnx.ModelProto:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "q.onnx"
        quantize_dynamic(src, out, weight_type=QuantType.QUInt8, use_external_data_format=True,
                         extra_options={"MatMulConstBOnly": True})
        return onnx.load(str(out))


def make_variant(fp32_path: Path, precision: str) -> Path:
    """Write one reduced-precision variant next to ``fp32_path`` and return its path."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    stem = fp32_path.name.removesuffix(".onnx")
    dst = fp32_path.with_name(f"{stem}{SUFFIX[precision]}.onnx")
    if precision == "fp32":
        return dst
    logging.disable(logging.WARNING)  # the quantizers log every tensor at INFO and shape guesses at WARNING
    try:
        if precision == "quantized":
            variant = _quantized(fp32_path)
        else:
            model = onnx.load(str(fp32_path))
            if precision == "fp16":
                variant = _fp16(model)
            elif precision == "q4":
                variant = _q4(model)
            else:
                variant = _fp16(_q4(model))
    finally:
        logging.disable(logging.NOTSET)
    variant.producer_name = "tiny_gemma4"
    variant.producer_version = ""
    save_external(variant, dst)
    return dst
