"""Read an .onnx file's signature and external-data references without loading its weights.

A minimal protobuf walker (the ``onnx`` package is not a runtime dependency): it visits only
``ModelProto.graph`` -> ``input``/``output``/``initializer`` and skips everything else by length,
so even a large graph file is read in milliseconds. Used by ``models verify`` and by the loader
to name a missing or truncated shard before ONNX Runtime gives a less helpful error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ELEM_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
    9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
}  # fmt: skip

Dim = int | str | None


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: name, dtype (numpy-style name) and shape (ints or symbols)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]

    def describe(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name} {self.dtype}[{dims}]"


@dataclass(frozen=True)
class ExternalRef:
    """A span of an external data file that one initializer needs."""

    location: str
    offset: int
    length: int


@dataclass(frozen=True)
class OnnxInfo:
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    external: tuple[ExternalRef, ...]


class OnnxFormatError(ValueError):
    """The bytes are not a complete ONNX model."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise OnnxFormatError("unexpected end of data")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise OnnxFormatError("bad varint")


def _fields(buf: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, value) pairs; length-delimited values come back as memoryviews."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise OnnxFormatError("field runs past the end of the data")
            yield number, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
        if pos > end:
            raise OnnxFormatError("unexpected end of data")


def _text(value: int | memoryview) -> str:
    return bytes(value).decode("utf-8", "replace") if isinstance(value, memoryview) else str(value)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _value_info(buf: memoryview) -> TensorInfo:
    name, dtype = "", "?"
    shape: tuple[Dim, ...] = ()
    for number, value in _fields(buf):
        if number == 1:
            name = _text(value)
        elif number == 2 and isinstance(value, memoryview):
            dtype, shape = _tensor_type(value)
    return TensorInfo(name, dtype, shape)


def _tensor_type(type_proto: memoryview) -> tuple[str, tuple[Dim, ...]]:
    for number, value in _fields(type_proto):
        if number == 1 and isinstance(value, memoryview):
            dtype, dims = "?", []
            for n2, v2 in _fields(value):
                if n2 == 1 and isinstance(v2, int):
                    dtype = ELEM_TYPES.get(v2, f"type{v2}")
                elif n2 == 2 and isinstance(v2, memoryview):
                    dims = [_dim(d) for n3, d in _fields(v2) if n3 == 1 and isinstance(d, memoryview)]
            return dtype, tuple(dims)
    return "?", ()


def _dim(buf: memoryview) -> Dim:
    for number, value in _fields(buf):
        if number == 1 and isinstance(value, int):
            return _signed(value)
        if number == 2:
            return _text(value)
    return None


def _initializer(buf: memoryview) -> tuple[str, ExternalRef | None]:
    name, external, entries = "", False, {}
    for number, value in _fields(buf):
        if number == 8:
            name = _text(value)
        elif number == 14 and value == 1:
            external = True
        elif number == 13 and isinstance(value, memoryview):
            pair = dict((n, _text(v)) for n, v in _fields(value))
            entries[pair.get(1, "")] = pair.get(2, "")
    if not external:
        return name, None
    try:
        ref = ExternalRef(entries["location"], int(entries.get("offset", 0)), int(entries.get("length", -1)))
    except (KeyError, ValueError) as err:
        raise OnnxFormatError(f"initializer {name} has a bad external-data entry") from err
    return name, ref


def read_onnx_info(path: Path) -> OnnxInfo:
    """Parse ``path``; raises ``OnnxFormatError`` for a truncated or non-ONNX file."""
    buf = memoryview(path.read_bytes())
    graph = None
    for number, value in _fields(buf):
        if number == 7 and isinstance(value, memoryview):
            graph = value
    if graph is None:
        raise OnnxFormatError("no graph in the file")
    inputs, outputs, external, initializers = [], [], [], set()
    for number, value in _fields(graph):
        if not isinstance(value, memoryview):
            continue
        if number == 11:
            inputs.append(_value_info(value))
        elif number == 12:
            outputs.append(_value_info(value))
        elif number == 5:
            name, ref = _initializer(value)
            initializers.add(name)
            if ref is not None:
                external.append(ref)
    real_inputs = tuple(i for i in inputs if i.name not in initializers)
    if not outputs:
        raise OnnxFormatError("the graph has no outputs")
    return OnnxInfo(real_inputs, tuple(outputs), tuple(external))
