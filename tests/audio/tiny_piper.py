"""A tiny generated Piper voice (the way piper's own tests do it): real ``PiperVoice.load`` and
synthesis code on an ONNX model with Piper's interface that turns each phoneme id into
256 samples of a tone whose pitch follows the id. It is not speech; it tests the plumbing."""

from __future__ import annotations

import json
from pathlib import Path

HOP = 256


def write_tiny_voice(directory: Path, sample_rate: int = 16000) -> Path:
    import onnx
    from onnx import TensorProto, helper
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    nodes = [
        helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),  # [1, N]
        helper.make_node("Unsqueeze", ["ids", "axis2"], ["ids3"]),  # [1, N, 1]
        helper.make_node("Mul", ["ids3", "ramp"], ["phase"]),  # [1, N, HOP]
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", "gain"], ["quiet"]),
        helper.make_node("Reshape", ["quiet", "shape"], ["output"]),  # [1, 1, N * HOP]
    ]
    ramp = [0.05 * i for i in range(HOP)]
    graph = helper.make_graph(
        nodes,
        "tiny_piper",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, None]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, None])],
        [
            helper.make_tensor("axis2", TensorProto.INT64, [1], [2]),
            helper.make_tensor("ramp", TensorProto.FLOAT, [1, 1, HOP], ramp),
            helper.make_tensor("gain", TensorProto.FLOAT, [], [0.5]),
            helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, -1]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = directory / "tiny-voice.onnx"
    onnx.save(model, path)
    config = {
        "audio": {"sample_rate": sample_rate},
        "espeak": {"voice": "en-us"},
        "phoneme_type": "espeak",
        "num_symbols": 256,
        "num_speakers": 1,
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
    }
    Path(f"{path}.json").write_text(json.dumps(config))
    return path
