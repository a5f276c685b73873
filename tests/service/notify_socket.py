"""A real ``AF_UNIX`` datagram socket standing where systemd's notify socket would be."""

from __future__ import annotations

import socket
import time
from pathlib import Path


class NotifySocket:
    """Binds a datagram socket; ``messages`` collects what arrived, one string per datagram."""

    def __init__(self, directory: Path, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"assistant-test-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env_value = "@" + name
        else:
            path = directory / "notify.sock"
            self.sock.bind(str(path))
            self.env_value = str(path)
        self.messages: list[tuple[float, str]] = []

    def receive(self, seconds: float) -> list[str]:
        """Collect datagrams for ``seconds``; returns the ones received in that time."""
        got: list[str] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.messages.append((time.monotonic(), data))
            got.append(data)
        return got

    def wait_for(self, text: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in m for m in self.receive(min(0.1, deadline - time.monotonic()))):
                return True
        return False

    def close(self) -> None:
        self.sock.close()
