"""``models pull --gguf REPO:FILE``, ``doctor`` and the config for ``model.backend = "llama.cpp"``.

The hub is the stand-in of ``test_models_cli.py`` (no real hub is reachable here), serving the tiny text
model with a real GGUF of it beside (``models/gguf_export.py``); llama.cpp is the real one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.config import Config, load_config
from assistant.config.validate import findings
from assistant.engine.doctor import llama_backend
from assistant.service.checks.model import required_files
from tests.conftest import run_cli
from tests.engine.test_models_cli import COMMIT, REPO, FakeHub

NAME = "gguf/tiny-Q4_0.gguf"


class GgufHub(FakeHub):
    """The stand-in hub, announcing the GGUF with an LFS checksum (``bad``: a wrong one)."""

    def __init__(self, folder: Path, bad: bool = False) -> None:
        super().__init__(folder)
        self.bad = bad

    def info(self) -> bytes:
        data = json.loads(super().info())
        for entry in data["siblings"]:
            if entry["rfilename"].endswith(".gguf"):
                body = (self.folder / entry["rfilename"]).read_bytes()
                sha = "0" * 64 if self.bad else hashlib.sha256(body).hexdigest()
                entry["lfs"] = {"sha256": sha, "size": len(body), "pointerSize": 130}
        return json.dumps(data).encode()


@pytest.fixture
def served(tiny_text_dir: Path, tiny_gguf, tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    shutil.copytree(tiny_text_dir, folder)
    (folder / "gguf").mkdir()
    shutil.copy(tiny_gguf("llama", "q4_0"), folder / NAME)
    return folder


def _pull(hub: FakeHub, dest: Path, home: Path):
    env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HOME": str(home)}
    return run_cli("models", "pull", "e2b", "--dir", str(dest), "--precision", "q4", "--text-only",
                   "--gguf", f"{REPO}:{NAME}", env=env), env


def test_pull_fetches_the_gguf_checks_and_records_its_checksum(served: Path, tmp_path: Path, clean_home) -> None:
    hub = GgufHub(served)
    try:
        dest = tmp_path / "model"
        proc, env = _pull(hub, dest, clean_home)
        assert proc.returncode == 0, proc.stderr
        got = dest / "gguf" / "model.gguf"
        assert got.read_bytes() == (served / NAME).read_bytes()
        entry = json.loads((dest / "manifest.json").read_text())["files"]["gguf/model.gguf"]
        assert entry["sha256"] == hashlib.sha256(got.read_bytes()).hexdigest()
        assert entry["source"] == f"{REPO}@{COMMIT}:{NAME}"
        assert not (dest / "gguf" / ".cache").exists()
        verify = run_cli("models", "verify", str(dest), env=env)
        assert verify.returncode == 0 and "checksums match manifest.json" in verify.stdout, verify.stderr
        hub.gets.clear()
        again, _ = _pull(hub, dest, clean_home)
        assert again.returncode == 0 and not [f for f, _ in hub.gets if f.endswith(".gguf")]  # not fetched again
    finally:
        hub.close()
    config = replace(Config(), model=replace(Config().model, dir=str(dest), backend="llama.cpp"))
    status, detail, _fix = llama_backend(config)
    assert status in ("ok", "warn"), detail  # warn: a llama.cpp build without some of this CPU's features
    if status == "ok":
        assert "checksum checked by model verify" in detail
    got.write_bytes(b"GGUF" + got.read_bytes()[4:][::-1])
    assert run_cli("models", "verify", str(dest), env=env).returncode != 0


def test_pull_refuses_a_gguf_whose_checksum_differs(served: Path, tmp_path: Path, clean_home) -> None:
    hub = GgufHub(served, bad=True)
    try:
        dest = tmp_path / "model"
        proc, _ = _pull(hub, dest, clean_home)
    finally:
        hub.close()
    assert proc.returncode == 1
    assert "tiny-Q4_0.gguf: checksum mismatch after download (deleted; run pull again)" in proc.stderr
    assert not (dest / "gguf" / "model.gguf").exists() and not (dest / NAME).exists()


def test_doctor_and_config_name_a_missing_gguf(tmp_path: Path, clean_home) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[model]\nbackend = "llama.cpp"\ngguf = "{tmp_path / "none.gguf"}"\n')
    config = load_config(str(path), environ={"HOME": str(clean_home)})
    assert config.model.backend == "llama.cpp"
    assert any(f.key == "model.gguf" and "no such file" in f.problem for f in findings(config))
    status, detail, fix = llama_backend(config)
    assert status == "fail" and "no GGUF here" in detail and "--gguf" in fix
    assert llama_backend(Config())[0] == "skip"
    needed = required_files(config)  # the service's "model files" check: the decoder graphs are not needed
    assert "onnx/audio_encoder_q4.onnx" in needed and not [f for f in needed if "decoder_model" in f or "embed" in f]
    assert "onnx/decoder_model_merged_q4.onnx" in required_files(Config())
    path.write_text('[model]\nbackend = "llama"\n')
    proc = run_cli("-c", str(path), "config", "check", env={"HOME": str(clean_home)})
    assert proc.returncode != 0 and "onnxruntime, llama.cpp" in proc.stderr
