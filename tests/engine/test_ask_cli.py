"""``assistant ask`` on a tiny model, with espeak-ng speech, as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from assistant.cli import main
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wav") / "x.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "turn on the light"], check=True)
    return path


def test_ask_with_audio_prints_reply_and_timings(tiny_audio_dir: Path, speech: Path, clean_home) -> None:
    proc = run_cli("ask", "--model", str(tiny_audio_dir), "--precision", "fp32", "--audio", str(speech), "what did I say?",
                   "--max-new-tokens", "8")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    timing_line = proc.stdout.strip().splitlines()[-1]
    assert timing_line.startswith("timings: load ")
    for stage in ("features", "encoder", "prefill", "first token", "decode 8 tokens"):
        assert stage in timing_line
    assert " audio, " in timing_line and " 0 audio, " not in timing_line


def test_ask_json_reports_tokens_tool_calls_and_timings(tiny_audio_dir: Path, speech: Path, tmp_path: Path, clean_home) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"type": "function", "function": {"name": "set_light", "description": "Switch a light"}}]))
    proc = run_cli("ask", "--model", str(tiny_audio_dir), "--precision", "q4", "--audio", str(speech), "--tools", str(tools),
                   "--json", "--max-new-tokens", "5", "--sample", "--seed", "3")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["token_ids"]) == 5
    assert result["timings"]["audio_tokens"] > 0 and result["timings"]["generated_tokens"] == 5
    assert isinstance(result["tool_calls"], list) and isinstance(result["text"], str)


def test_ask_text_only_model_with_config_file(tiny_text_dir: Path, tmp_path: Path, clean_home) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\ndir = "{tiny_text_dir}"\ndecoder_precision = "quantized"\nembed_precision = "quantized"\nmax_new_tokens = 4\n'
    )
    proc = run_cli("--config", str(config), "ask", "hello")
    assert proc.returncode == 0, proc.stderr
    assert "decode 4 tokens" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        ([], "nothing to ask: give some text, --audio FILE, or both", 1),
        (["--audio", "/nonexistent.wav", "hi"], "/nonexistent.wav: no such file", 1),
        (["--tools", "/nonexistent.json", "hi"], "/nonexistent.json: no such file", 1),
        (["--max-new-tokens", "0", "hi"], "--max-new-tokens must be at least 1", 2),  # bad usage
    ],
)
def test_ask_usage_errors_are_one_line(tiny_text_dir: Path, clean_home, capsys, args: list[str], message: str,
                                       code: int) -> None:
    assert main(["ask", "--model", str(tiny_text_dir), *args]) == code
    assert capsys.readouterr().err == f"assistant: error: {message}\n"


def test_ask_audio_on_text_only_model(tiny_text_dir: Path, speech: Path, clean_home) -> None:
    proc = run_cli("ask", "--model", str(tiny_text_dir), "--precision", "fp32", "--audio", str(speech), "hi")
    assert proc.returncode == 1
    assert "has no audio_encoder loaded: this model takes text only" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
