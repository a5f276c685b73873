"""Shared test helpers: run the CLI in a subprocess with a controlled environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120):
    """Run ``python -m assistant ARGS`` as a user would, with HOME pointed at a clean place."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def free_port() -> int:
    """A free loopback TCP port for a test server; never 1883, where a system broker may listen."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != 1883:
            return port


@pytest.fixture
def clean_home(tmp_path, monkeypatch):
    """A HOME with no config, and no assistant variables in the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for key in list(os.environ):
        if key.startswith("ASSISTANT_") or key == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(key)
    return home
