"""Fixtures for the tier tests: the real llama-cpp-python server, listeners, a scripted local engine."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant.protocols import Event, Message

from .servers import Listener, LlamaServer, gguf_path, server_missing

API_KEY = "test-key-0123"


@pytest.fixture(scope="session")
def gguf() -> Path:
    reason = server_missing()
    if reason:
        pytest.skip(reason)
    return gguf_path()


@pytest.fixture(scope="session")
def llama(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One real server for the whole session, requiring an API key."""
    server = LlamaServer(gguf, api_key=API_KEY, log_dir=tmp_path_factory.mktemp("llama")).start()
    yield server
    server.stop()


@pytest.fixture
def own_llama(gguf: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A server of this test's own, which the test may kill and restart."""
    server = LlamaServer(gguf, log_dir=tmp_path)
    yield server
    server.stop()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), made with openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def listener() -> Iterator[Listener]:
    sock = Listener(answer=True)
    yield sock
    sock.close()


@pytest.fixture
def blackhole() -> Iterator[Listener]:
    sock = Listener(answer=False)
    yield sock
    sock.close()


class ScriptedEngine:
    """Stands in for the local Gemma 4 E2B engine, which cannot run here (no weights can be downloaded).

    Each call to ``generate`` plays the next script (a list of events) and records the
    messages and tools it was given, so tests can check what the router offered it.
    """

    def __init__(self, *scripts: list[Event]) -> None:
        self.scripts = list(scripts)
        self.calls: list[tuple[list[Message], list[Mapping[str, Any]]]] = []

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]:
        self.calls.append((list(messages), list(tools)))
        script = self.scripts.pop(0) if self.scripts else []
        yield from script

    def tool_names(self, call: int) -> list[str]:
        return [t["function"]["name"] for t in self.calls[call][1]]


class EscalatingEngine(ScriptedEngine):
    """A ScriptedEngine that always escalates when offered the escalation tool, else answers itself."""

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]:
        from assistant.protocols import TextDelta, ToolCall

        self.calls.append((list(messages), list(tools)))
        if any(t["function"]["name"] == "ask_expert" for t in tools):
            yield TextDelta("Let me ask. ")
            yield ToolCall(name="ask_expert", arguments={"question": "Why is the sky blue?"})
        else:
            yield TextDelta("Because of scattering.")
