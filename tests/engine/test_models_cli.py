"""``assistant models pull|verify|list``.

The Hugging Face hub cannot be reached from here, so ``pull`` is tested two ways: for real against the
unreachable hub (its one-line offline message, also with ``HF_HUB_OFFLINE=1``), and against
``FakeHub``, a local HTTP server that answers the few hub endpoints ``huggingface_hub`` uses
(model info with file metadata, and file downloads with Range requests), serving a tiny model dir.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.engine.graphs.hub import wanted_files
from assistant.engine.graphs.model_dir import iter_model_files
from assistant.errors import AssistantError
from tests.conftest import run_cli

pytestmark = pytest.mark.slow
REPO = "onnx-community/gemma-4-E2B-it-ONNX"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _offline_checks(proc, dest: Path) -> None:
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    line = lines[0]
    assert line.startswith(f"assistant: error: cannot reach the Hugging Face hub for {REPO}")
    assert f'model.dir = "{dest}"' in line and "copy" in line and "assistant models verify" in line


def test_pull_without_network_says_how_to_copy_a_model(tmp_path: Path, clean_home) -> None:
    dest = tmp_path / "m"
    _offline_checks(run_cli("models", "pull", "e2b", "--dir", str(dest), env={"HF_ENDPOINT": "https://huggingface.co"}), dest)


def test_pull_with_hf_hub_offline(tmp_path: Path, clean_home) -> None:
    dest = tmp_path / "m"
    proc = run_cli("models", "pull", "e2b", "--dir", str(dest), env={"HF_HUB_OFFLINE": "1"})
    _offline_checks(proc, dest)
    assert "HF_HUB_OFFLINE is set" in proc.stderr


def test_wanted_files_selects_graphs_and_every_shard() -> None:
    names = [
        "README.md", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "chat_template.jinja", "processor_config.json", "preprocessor_config.json",
        "onnx/decoder_model_merged_q4.onnx", "onnx/decoder_model_merged_q4.onnx_data",
        "onnx/decoder_model_merged_q4.onnx_data_2", "onnx/decoder_model_merged_q4.onnx_data_1",
        "onnx/decoder_model_merged_q4f16.onnx", "onnx/decoder_model_merged_q4f16.onnx_data",
        "onnx/embed_tokens_quantized.onnx", "onnx/embed_tokens_quantized.onnx_data",
        "onnx/embed_tokens_q4.onnx", "onnx/embed_tokens_q4.onnx_data",
        "onnx/vision_encoder_q4.onnx", "onnx/vision_encoder_q4.onnx_data",
    ]  # fmt: skip
    got = wanted_files(names, {"decoder_model_merged": {"q4"}, "embed_tokens": {"quantized"}})
    assert got[:7] == names[1:8]
    assert got[7:] == [
        "onnx/embed_tokens_quantized.onnx", "onnx/embed_tokens_quantized.onnx_data",
        "onnx/decoder_model_merged_q4.onnx", "onnx/decoder_model_merged_q4.onnx_data",
        "onnx/decoder_model_merged_q4.onnx_data_1", "onnx/decoder_model_merged_q4.onnx_data_2",
    ]  # fmt: skip
    with pytest.raises(AssistantError, match=r"onnx/audio_encoder_fp16\.onnx is not in the repository"):
        wanted_files(names, {"audio_encoder": {"fp16"}})
    with pytest.raises(AssistantError, match=r"lacks tokenizer\.json"):
        wanted_files([n for n in names if n != "tokenizer.json"], {})


class FakeHub:
    """A stand-in for huggingface.co serving one repository from a folder (no real hub is reachable here)."""

    def __init__(self, folder: Path, drop_once: str = "", bad_sha: str = "", repo: str = REPO) -> None:
        self.folder = folder
        self.repo = repo
        self.drop_once = drop_once  # this file's first download is cut off half-way
        self.bad_sha = bad_sha  # this file is announced with a wrong checksum
        self.gets: list[tuple[str, str]] = []  # (file, Range header)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.serve(self, head=True)

            def do_GET(self) -> None:
                hub.serve(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def info(self) -> bytes:
        siblings = []
        for rel in iter_model_files(self.folder):
            data = (self.folder / rel).read_bytes()
            sha = "0" * 64 if rel == self.bad_sha else hashlib.sha256(data).hexdigest()
            entry = {"rfilename": rel, "size": len(data)}
            if "onnx" in rel:
                entry["lfs"] = {"sha256": sha, "size": len(data), "pointerSize": 130}
            siblings.append(entry)
        return json.dumps({"id": self.repo, "modelId": self.repo, "sha": COMMIT, "private": False, "siblings": siblings}).encode()

    def serve(self, req: BaseHTTPRequestHandler, head: bool) -> None:
        path = req.path.split("?")[0]
        if path.startswith(f"/api/models/{self.repo}"):
            body = self.info()
            req.send_response(200)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)
            return
        prefix = f"/{self.repo}/resolve/{COMMIT}/"
        rel = path[len(prefix) :] if path.startswith(prefix) else ""
        file = self.folder / rel
        if not rel or not file.is_file():
            req.send_response(404)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        data = file.read_bytes()
        start = int(req.headers.get("Range", "bytes=0-")[6:].split("-")[0] or 0)
        req.send_response(206 if start else 200)
        req.send_header("X-Repo-Commit", COMMIT)
        req.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        req.send_header("Content-Length", str(len(data) - start))
        req.end_headers()
        if head:
            return
        self.gets.append((rel, req.headers.get("Range", "")))
        if rel == self.drop_once:
            self.drop_once = ""
            req.wfile.write(data[start : start + (len(data) - start) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        req.wfile.write(data[start:])

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def hub_env(tiny_text_dir: Path, clean_home):
    hubs: list[FakeHub] = []

    def start(**kwargs) -> tuple[FakeHub, dict[str, str]]:
        hub = FakeHub(tiny_text_dir, **kwargs)
        hubs.append(hub)
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HOME": str(clean_home)}
        return hub, env

    yield start
    for hub in hubs:
        hub.close()


def test_pull_fetches_only_the_chosen_precision_retries_and_records_checksums(hub_env, tmp_path: Path) -> None:
    dest = tmp_path / "model"
    hub, env = hub_env(drop_once="onnx/decoder_model_merged_q4.onnx_data")
    proc = run_cli("models", "pull", "e2b", "--dir", str(dest), "--precision", "q4", "--text-only", env=env)
    assert proc.returncode == 0, proc.stderr
    got = sorted(iter_model_files(dest))
    onnx_files = [g for g in got if g.startswith("onnx/")]
    assert onnx_files == sorted(
        ["onnx/decoder_model_merged_q4.onnx", "onnx/decoder_model_merged_q4.onnx_data",
         "onnx/embed_tokens_q4.onnx", "onnx/embed_tokens_q4.onnx_data"]
    )  # fmt: skip
    # The connection dropped half-way through this file; huggingface_hub tried again and finished it. (It
    # resumes with a Range request from what it wrote; it writes in 10 MB chunks, so files this small restart.)
    assert [f for f, _ in hub.gets].count("onnx/decoder_model_merged_q4.onnx_data") == 2
    assert "Trying to resume download" in proc.stderr
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["repo"] == REPO and manifest["revision"] == COMMIT
    for rel in got:
        assert manifest["files"][rel]["sha256"] == hashlib.sha256((dest / rel).read_bytes()).hexdigest()
    assert "[1/" in proc.stderr  # progress per file

    verify = run_cli("models", "verify", str(dest), env=env)
    assert verify.returncode == 0, verify.stderr
    assert "checksums match manifest.json" in verify.stdout

    hub.gets.clear()
    again = run_cli("models", "pull", "e2b", "--dir", str(dest), "--precision", "q4", "--text-only", env=env)
    assert again.returncode == 0, again.stderr
    assert not [f for f, _ in hub.gets if f.endswith(".onnx_data")]  # complete files are not fetched again


def test_pull_rejects_a_checksum_mismatch(hub_env, tmp_path: Path) -> None:
    dest = tmp_path / "model"
    _, env = hub_env(bad_sha="onnx/embed_tokens_q4.onnx_data")
    proc = run_cli("models", "pull", "e2b", "--dir", str(dest), "--precision", "q4", "--text-only", env=env)
    assert proc.returncode == 1
    assert "embed_tokens_q4.onnx_data: checksum mismatch after download (deleted; run pull again)" in proc.stderr
    assert not (dest / "onnx/embed_tokens_q4.onnx_data").exists()


def test_list_shows_configured_and_state_models(tiny_audio_dir: Path, tiny_text_dir: Path, tmp_path: Path, clean_home) -> None:
    state = tmp_path / "state"
    (state / "models").mkdir(parents=True)
    (state / "models" / "text").symlink_to(tiny_text_dir, target_is_directory=True)
    config = tmp_path / "c.toml"
    config.write_text(f'[model]\ndir = "{tiny_audio_dir}"\n[service]\nstate_dir = "{state}"\n')
    proc = run_cli("--config", str(config), "models", "list")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"{tiny_audio_dir} (configured)" in out and str(state / "models" / "text") in out
    assert "audio_encoder          fp32, fp16, q4, q4f16, quantized" in out
    assert "audio_encoder          -" in out  # the text-only model


def test_list_with_nothing_installed(tmp_path: Path, clean_home) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[service]\nstate_dir = "{tmp_path / "state"}"\n')
    proc = run_cli("--config", str(config), "models", "list")
    assert proc.returncode == 0 and "No model installed" in proc.stdout and "models pull e2b" in proc.stdout


def test_every_engine_model_a_hardware_profile_names_can_be_pulled() -> None:
    from assistant.engine.graphs.hub import REPOS
    from assistant.hardware.profiles import load_profiles

    named = {p.engine_model for p in load_profiles()}
    assert "e4b" in named  # the x86 profiles recommend it
    assert named <= set(REPOS)


def test_pull_e4b_into_its_own_directory_and_say_how_to_use_it(hub_env, tmp_path: Path) -> None:
    """E4B is published in E2B's layout; without --dir it goes beside the E2B model, never over it."""
    e4b = "onnx-community/gemma-4-E4B-it-ONNX"
    hub, env = hub_env(repo=e4b)
    state = tmp_path / "state"
    env["ASSISTANT_SERVICE__STATE_DIR"] = str(state)
    proc = run_cli("models", "pull", "e4b", "--precision", "q4", "--text-only", env=env)
    assert proc.returncode == 0, proc.stderr
    dest = state / "models" / "gemma-4-E4B-it-ONNX"
    assert json.loads((dest / "manifest.json").read_text())["repo"] == e4b
    assert {f for f, _ in hub.gets} >= {"onnx/decoder_model_merged_q4.onnx", "onnx/embed_tokens_q4.onnx_data"}
    assert not (state / "models" / "gemma-4-E2B-it-ONNX").exists()
    assert proc.stdout.splitlines()[-1] == f'to use it, set model.dir = "{dest}" in the [model] section of the config'
    verify = run_cli("models", "verify", str(dest), env=env)
    assert verify.returncode == 0, verify.stderr
    listed = run_cli("models", "list", env=env)
    assert str(dest) in listed.stdout


def test_pull_e4b_offline_names_e4b(tmp_path: Path, clean_home) -> None:
    env = {"HF_HUB_OFFLINE": "1", "HOME": str(clean_home)}
    proc = run_cli("models", "pull", "e4b", "--dir", str(tmp_path / "m"), env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "onnx-community/gemma-4-E4B-it-ONNX" in proc.stderr and "'assistant models pull e4b --dir DIR'" in proc.stderr
