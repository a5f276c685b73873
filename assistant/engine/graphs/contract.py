"""The I/O contract of the three published graphs, checked against what a graph declares.

A signature is the list of inputs and outputs as ``TensorInfo`` (from session metadata at
load, or from the .onnx file in ``models verify``). Any difference from the contract is one
line showing what was found, e.g. ``decoder_model_merged_q4.onnx: input attention_mask is
float32[batch_size,total_sequence_length], expected int64 rank 2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.engine.graphs.model_dir import ModelDirError
from assistant.engine.graphs.onnxfile import TensorInfo
from assistant.engine.graphs.spec import ModelSpec

FLOATS = ("float32", "float16")


@dataclass(frozen=True)
class Expect:
    """One expected tensor: allowed dtypes, rank, and fixed trailing dims (None = any)."""

    dtypes: tuple[str, ...]
    rank: int | tuple[int, ...]
    dims: dict[int, int] | None = None

    def problem(self, info: TensorInfo) -> str:
        ranks = self.rank if isinstance(self.rank, tuple) else (self.rank,)
        wanted = f"{'/'.join(self.dtypes)} rank {'/'.join(map(str, ranks))}"
        if self.dims:
            wanted += " with " + ", ".join(f"dim {i} = {d}" for i, d in sorted(self.dims.items()))
        if info.dtype not in self.dtypes or len(info.shape) not in ranks:
            return f"is {_shape(info)}, expected {wanted}"
        for index, size in (self.dims or {}).items():
            actual = info.shape[index]
            if isinstance(actual, int) and actual != size:
                return f"is {_shape(info)}, expected {wanted}"
        return ""


def _shape(info: TensorInfo) -> str:
    return info.describe()[len(info.name) + 1 :]


class ContractError(ValueError):
    """A graph that does not match the contract; the message is one line."""


def _check(label: str, kind: str, infos: Sequence[TensorInfo], required: dict[str, Expect], optional: dict[str, Expect]) -> None:
    by_name = {i.name: i for i in infos}
    for name in required:
        if name not in by_name:
            found = ", ".join(i.describe() for i in infos)
            raise ContractError(f"{label}: no {kind} named {name} (found: {found})")
    for info in infos:
        expect_or_none = required.get(info.name) or optional.get(info.name)
        if expect_or_none is None:
            raise ContractError(f"{label}: unexpected {kind} {info.describe()}")
        problem = expect_or_none.problem(info)
        if problem:
            raise ContractError(f"{label}: {kind} {info.name} {problem}")


def check_embed(label: str, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], spec: ModelSpec) -> None:
    t = spec.text
    _check(label, "input", inputs, {"input_ids": Expect(("int64",), 2)}, {})
    _check(
        label,
        "output",
        outputs,
        {
            "inputs_embeds": Expect(FLOATS, 3, {2: t.hidden_size}),
            "per_layer_inputs": Expect(FLOATS, 4, {2: t.num_hidden_layers, 3: t.hidden_size_per_layer_input}),
        },
        {},
    )


def check_audio(
    label: str, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], spec: ModelSpec, mel_bins: int
) -> None:
    _check(
        label,
        "input",
        inputs,
        {"input_features": Expect(FLOATS, 3, {2: mel_bins}), "input_features_mask": Expect(("bool",), 2)},
        {},
    )
    _check(label, "output", outputs, {"audio_features": Expect(FLOATS, (2, 3), {-1: spec.text.hidden_size})}, {})


def kv_names(spec: ModelSpec, prefix: str) -> list[str]:
    """``past_key_values.{i}.key/value`` (or ``present.``) for every layer that owns a cache."""
    return [f"{prefix}.{i}.{kind}" for i in range(spec.text.kv_layers) for kind in ("key", "value")]


def check_decoder(label: str, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], spec: ModelSpec) -> None:
    t = spec.text
    required = {
        "inputs_embeds": Expect(FLOATS, 3, {2: t.hidden_size}),
        "per_layer_inputs": Expect(FLOATS, 4, {2: t.num_hidden_layers, 3: t.hidden_size_per_layer_input}),
        "attention_mask": Expect(("int64",), 2),
        "position_ids": Expect(("int64",), 2),
    }
    outs = {"logits": Expect(FLOATS, 3, {2: t.vocab_size})}
    for i in range(t.kv_layers):
        for kind in ("key", "value"):
            kv = Expect(FLOATS, 4, {3: t.kv_head_dim(i)})
            required[f"past_key_values.{i}.{kind}"] = kv
            outs[f"present.{i}.{kind}"] = kv
    optional = {"num_logits_to_keep": Expect(("int64",), 0), "use_cache_branch": Expect(("bool",), (0, 1))}
    _check(label, "input", inputs, required, optional)
    _check(label, "output", outputs, outs, {})


def check_graph(
    graph: str, label: str, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], spec: ModelSpec, mel_bins: int = 128
) -> None:
    """The contract check for one graph, as a one-line ``ModelDirError``."""
    try:
        if graph == "embed_tokens":
            check_embed(label, inputs, outputs, spec)
        elif graph == "audio_encoder":
            check_audio(label, inputs, outputs, spec, mel_bins)
        else:
            check_decoder(label, inputs, outputs, spec)
    except ContractError as err:
        raise ModelDirError(str(err)) from err
