"""Per-layer embeddings from a memory-mapped, row-quantized store.

Gemma 4 E2B's per-layer embedding table is 262144 x (35 x 256) values, 2.35 B parameters: far
too big to sit in a Pi's RAM. The store holds it as int8 (or int4) with one float32 scale per
(token, layer) row of 256 values, in one file that is memory-mapped: only the pages of tokens
actually used become resident. It is made once from the model's own ``embed_tokens`` graph, by
running the graph over every token id, so it reproduces the graph's lookup (scale included)
whatever the graph's precision or internal layout.

File layout: a JSON header line (padded to 4096 bytes), then the quantized rows
``[vocab, layers, width]`` (int8, or uint8 holding two int4 values), then the scales
``[vocab, layers]`` float32.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from assistant.errors import AssistantError

HEADER_BYTES = 4096
MAGIC = "gemma-ple-store"
VERSION = 1
Lookup = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.floating]]


@dataclass(frozen=True)
class StoreHeader:
    vocab: int
    layers: int
    width: int
    bits: int
    source: str

    @property
    def row_bytes(self) -> int:
        return self.layers * self.width * self.bits // 8

    @property
    def data_bytes(self) -> int:
        return self.vocab * self.row_bytes

    @property
    def file_bytes(self) -> int:
        return HEADER_BYTES + self.data_bytes + self.vocab * self.layers * 4


def quantize_rows(rows: npt.NDArray[np.floating], bits: int) -> tuple[npt.NDArray[np.uint8 | np.int8], npt.NDArray[np.float32]]:
    """Symmetric per-row quantization of ``[..., width]``; returns (codes, scales)."""
    x = np.asarray(rows, dtype=np.float32)
    qmax = 127 if bits == 8 else 7
    peak = np.abs(x).max(axis=-1)
    scales = np.where(peak > 0, peak / qmax, 1.0).astype(np.float32)
    q = np.clip(np.rint(x / scales[..., None]), -qmax, qmax).astype(np.int8)
    if bits == 8:
        return q, scales
    nib = (q.astype(np.int16) & 0xF).astype(np.uint8)
    return (nib[..., 0::2] | (nib[..., 1::2] << 4)).astype(np.uint8), scales


def dequantize(codes: np.ndarray, scales: np.ndarray, bits: int) -> npt.NDArray[np.float32]:
    if bits == 8:
        return codes.astype(np.float32) * scales[..., None]
    lo = (codes & 0xF).astype(np.int8)
    hi = (codes >> 4).astype(np.int8)
    lo = np.where(lo > 7, lo - 16, lo)
    hi = np.where(hi > 7, hi - 16, hi)
    out = np.empty((*codes.shape[:-1], codes.shape[-1] * 2), dtype=np.float32)
    out[..., 0::2] = lo
    out[..., 1::2] = hi
    return out * scales[..., None]


def build_store(
    lookup: Lookup,
    vocab: int,
    path: Path,
    bits: int = 8,
    chunk: int = 1024,
    source: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> StoreHeader:
    """Write a store for token ids ``0..vocab-1`` from ``lookup(ids) -> [n, layers, width]``.

    Written to ``path.tmp`` and renamed at the end, so a crash never leaves a half store.
    """
    if bits not in (4, 8):
        raise AssistantError(f"per-layer embedding store: bits must be 4 or 8, not {bits}")
    probe = np.asarray(lookup(np.zeros(1, dtype=np.int64)))
    layers, width = int(probe.shape[-2]), int(probe.shape[-1])
    header = StoreHeader(vocab=vocab, layers=layers, width=width, bits=bits, source=source)
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as fh:
        fh.truncate(header.file_bytes)
        fh.write(_encode_header(header))
    codes, scales = _open_arrays(tmp, header, mode="r+")
    for start in range(0, vocab, chunk):
        ids = np.arange(start, min(start + chunk, vocab), dtype=np.int64)
        rows = np.asarray(lookup(ids), dtype=np.float32).reshape(len(ids), layers, width)
        codes[start : start + len(ids)], scales[start : start + len(ids)] = quantize_rows(rows, bits)
        if progress is not None:
            progress(start + len(ids), vocab)
    codes.flush()
    scales.flush()
    del codes, scales
    os.replace(tmp, path)
    return header


class PleStore:
    """Read side: ``store.lookup(ids)`` returns float32 ``[*ids.shape, layers, width]``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            with self.path.open("rb") as fh:
                raw = fh.read(HEADER_BYTES)
            self.header = _decode_header(raw, self.path)
            size = self.path.stat().st_size
        except OSError as err:
            raise AssistantError(f"{path}: cannot read per-layer embedding store ({err.strerror})") from None
        if size != self.header.file_bytes:
            raise AssistantError(
                f"{path}: per-layer embedding store is truncated ({size} bytes, expected {self.header.file_bytes});"
                " delete it to rebuild"
            )
        self._codes, self._scales = _open_arrays(self.path, self.header, mode="r")

    def lookup(self, ids: npt.ArrayLike) -> npt.NDArray[np.float32]:
        flat = np.asarray(ids, dtype=np.int64).reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.header.vocab):
            raise ValueError(f"token id out of range 0..{self.header.vocab - 1}")
        rows = dequantize(self._codes[flat], self._scales[flat], self.header.bits)
        return rows.reshape(*np.shape(ids), self.header.layers, self.header.width)

    def resident_bytes(self) -> int:
        """Bytes of this store's mapping now resident in RAM (from /proc/self/smaps; 0 if unknown)."""
        return mapping_rss_bytes(self.path)


def mapping_rss_bytes(path: Path) -> int:
    """Sum of ``Rss`` over this process's mappings of ``path`` (Linux)."""
    target = str(Path(path).resolve())
    total, inside = 0, False
    try:
        with open("/proc/self/smaps", encoding="utf-8") as fh:
            for line in fh:
                head = line.split()
                if len(head) >= 5 and "-" in head[0] and not line.startswith(("Rss", "Size")):
                    inside = line.rstrip("\n").endswith(target)
                elif inside and line.startswith("Rss:"):
                    total += int(head[1]) * 1024
    except OSError:
        return 0
    return total


def _encode_header(h: StoreHeader) -> bytes:
    meta = {"magic": MAGIC, "version": VERSION, "vocab": h.vocab, "layers": h.layers, "width": h.width, "bits": h.bits,
            "source": h.source}
    raw = (json.dumps(meta) + "\n").encode()
    if len(raw) > HEADER_BYTES:
        raise AssistantError("per-layer embedding store: header too long")
    return raw.ljust(HEADER_BYTES, b" ")


def _decode_header(raw: bytes, path: Path) -> StoreHeader:
    try:
        meta = json.loads(raw.split(b"\n", 1)[0])
        if meta.get("magic") != MAGIC or meta.get("version") != VERSION:
            raise ValueError
        return StoreHeader(int(meta["vocab"]), int(meta["layers"]), int(meta["width"]), int(meta["bits"]), str(meta["source"]))
    except (ValueError, KeyError, TypeError):
        raise AssistantError(f"{path}: not a per-layer embedding store (delete it to rebuild)") from None


def _open_arrays(path: Path, h: StoreHeader, mode: Literal["r", "r+"]) -> tuple[np.memmap, np.memmap]:
    width = h.width if h.bits == 8 else h.width // 2
    dtype = np.dtype(np.int8 if h.bits == 8 else np.uint8)
    codes = np.memmap(str(path), dtype=dtype, mode=mode, offset=HEADER_BYTES, shape=(h.vocab, h.layers, width))
    scales = np.memmap(str(path), dtype=np.dtype(np.float32), mode=mode, offset=HEADER_BYTES + h.data_bytes,
                       shape=(h.vocab, h.layers))
    return codes, scales


def session_lookup(session: object) -> Lookup:
    """A lookup over an ONNX Runtime ``embed_tokens`` session: ids -> its ``per_layer_inputs`` rows."""
    run = session.run  # type: ignore[attr-defined]

    def lookup(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.floating]:
        out = run(["per_layer_inputs"], {"input_ids": np.asarray(ids, dtype=np.int64).reshape(1, -1)})[0]
        return np.asarray(out[0], dtype=np.float32)

    return lookup
