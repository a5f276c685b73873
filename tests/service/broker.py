"""A real Mosquitto on a free loopback port (never 1883), with a password file."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """Starts ``mosquitto`` with one user; ``close`` stops it."""

    def __init__(self, directory: Path, user: str = "assistant", password: str = "s3cret") -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed")
        self.port = free_port()
        passwords = directory / "passwords"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), user, password], check=True, capture_output=True)
        passwords.chmod(0o600)
        conf = directory / "mosquitto.conf"
        # As root, mosquitto would switch to its own user, which cannot read files under pytest's tmp dir.
        run_as = f"user {getpass.getuser()}\n" if os.geteuid() == 0 else ""
        conf.write_text(f"{run_as}listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
                        "persistence false\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("mosquitto did not start")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
