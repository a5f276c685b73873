"""Every kind of broken model directory gives one line naming the file, via ``models verify`` and ``ask``.

Most cases run the CLI in-process (``assistant.cli.main``, the same code path without paying the
import time again); the last test runs both commands as real subprocesses.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto

from assistant.cli import main
from assistant.engine.graphs.manifest import sha256_file, write_manifest
from assistant.engine.graphs.model_dir import iter_model_files
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def copy(tiny_audio_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny audio model with its fp32 and q4 graphs."""
    dest = tmp_path / "model"
    shutil.copytree(tiny_audio_dir, dest, ignore=shutil.ignore_patterns("*_fp16*", "*_q4f16*", "*_quantized*", "hf"))
    return dest


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _retype_attention_mask(root: Path) -> None:
    path = root / "onnx/decoder_model_merged.onnx"
    model = onnx.load(str(path), load_external_data=False)
    for value in model.graph.input:
        if value.name == "attention_mask":
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    onnx.save(model, str(path))


def _wrong_graph(root: Path) -> None:
    shutil.copy(root / "onnx/embed_tokens.onnx", root / "onnx/decoder_model_merged.onnx")


def _set_config(root: Path, key: str, value: object) -> None:
    data = json.loads((root / "config.json").read_text())
    data[key] = value
    (root / "config.json").write_text(json.dumps(data))


def _remove_all_decoders(root: Path) -> None:
    for path in (root / "onnx").glob("decoder_model_merged*"):
        path.unlink()


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing config": (lambda r: (r / "config.json").unlink(), r"config\.json: missing"),
    "config not json": (lambda r: (r / "config.json").write_text("{oops"), r"config\.json: not valid JSON"),
    "missing tokenizer": (lambda r: (r / "tokenizer.json").unlink(), r"tokenizer\.json: missing"),
    "corrupt tokenizer": (lambda r: (r / "tokenizer.json").write_text('{"version": 1}'), r"tokenizer\.json: cannot load"),
    "missing template": (lambda r: (r / "chat_template.jinja").unlink(), r"chat_template\.jinja: missing"),
    "missing shard": (
        lambda r: (r / "onnx/decoder_model_merged.onnx_data").unlink(),
        r"decoder_model_merged\.onnx_data: missing external-data shard of onnx/decoder_model_merged\.onnx",
    ),
    "truncated shard": (
        lambda r: _truncate(r / "onnx/embed_tokens.onnx_data"),
        r"embed_tokens\.onnx_data: truncated \(\d+ bytes, onnx/embed_tokens\.onnx needs at least \d+\)",
    ),
    "truncated graph": (
        lambda r: _truncate(r / "onnx/audio_encoder.onnx", 0.3),
        r"audio_encoder\.onnx: truncated or not an ONNX file",
    ),
    "wrong dtype": (
        _retype_attention_mask,
        r"decoder_model_merged\.onnx: input attention_mask is float32\[batch_size,total_sequence_length\], expected int64",
    ),
    "wrong graph": (
        _wrong_graph,
        r"decoder_model_merged\.onnx: no input named inputs_embeds \(found: input_ids int64\[batch_size,sequence_length\]\)",
    ),
    "token id disagreement": (
        lambda r: _set_config(r, "audio_token_id", 7),
        r"tokenizer\.json gives <\|audio\|> id \d+ but config\.json says 7",
    ),
    "no decoder": (_remove_all_decoders, r"decoder_model_merged(_q4)?\.onnx: missing"),
}


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 1
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("assistant: error: ")
    return lines[0]


@pytest.mark.parametrize("case", list(CASES))
def test_verify_and_ask_name_the_problem(copy: Path, capsys, case: str) -> None:
    breaker, pattern = CASES[case]
    breaker(copy)
    verify_line = _one_line_error(capsys, ["models", "verify", str(copy)])
    assert re.search(pattern, verify_line), verify_line
    ask_line = _one_line_error(capsys, ["ask", "--model", str(copy), "--precision", "fp32", "hello"])
    assert re.search(pattern, ask_line), ask_line


def test_missing_precision_names_what_is_installed(copy: Path, capsys) -> None:
    line = _one_line_error(capsys, ["ask", "--model", str(copy), "--precision", "fp16", "hello"])
    assert "onnx/audio_encoder_fp16.onnx: missing (audio_encoder in fp16; installed: fp32, q4)" in line


def test_checksum_mismatch_is_found_by_verify(copy: Path, capsys) -> None:
    files = {rel: {"size": (copy / rel).stat().st_size, "sha256": sha256_file(copy / rel)} for rel in iter_model_files(copy)}
    write_manifest(copy, "local/test", "abc", files)
    assert main(["models", "verify", str(copy)]) == 0
    assert f"{len(files)} checksums match manifest.json" in capsys.readouterr().out
    shard = copy / "onnx/decoder_model_merged_q4.onnx_data"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    line = _one_line_error(capsys, ["models", "verify", str(copy)])
    assert "decoder_model_merged_q4.onnx_data: checksum differs from manifest.json" in line


def test_no_directory(tmp_path: Path, capsys) -> None:
    line = _one_line_error(capsys, ["models", "verify", str(tmp_path / "absent")])
    assert "absent: no model directory here" in line


def test_as_real_subprocesses(copy: Path) -> None:
    (copy / "onnx/decoder_model_merged.onnx_data").unlink()
    for argv in (["models", "verify", str(copy)], ["ask", "--model", str(copy), "--precision", "fp32", "hi"]):
        proc = run_cli(*argv)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") == 0
        assert "decoder_model_merged.onnx_data: missing external-data shard" in proc.stderr
