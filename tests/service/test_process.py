"""A real assistant process (built from the doubles) under a real notify socket: SIGTERM and the watchdog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from assistant.service.signals import HARD_EXIT_CODE

from ..conftest import ROOT
from .notify_socket import NotifySocket

SHUTDOWN_LIMIT_S = 2.0  # issue 6: SIGTERM shuts everything down cleanly within 2 s


def start(mode: str, tmp_path, notify: NotifySocket, **env: str) -> subprocess.Popen:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "NOTIFY_", "WATCHDOG_"))}
    full_env.update(PYTHONPATH=str(ROOT), NOTIFY_SOCKET=notify.env_value, **env)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.service.harness", mode, str(tmp_path / "state")],
        cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_line(proc: subprocess.Popen, wanted: str, timeout: float = 20.0) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline().strip()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if line == wanted:
            return seen
    proc.kill()
    raise AssertionError(f"never printed {wanted!r}; saw {seen}; stderr: {proc.communicate()[1][-2000:]}")


@pytest.mark.parametrize("mode", ["thinking", "speaking"])
def test_sigterm_during_a_turn_exits_cleanly_in_time(tmp_path, mode):
    notify = NotifySocket(tmp_path)
    proc = start(mode, tmp_path, notify)
    try:
        wait_line(proc, f"status {mode}")
        assert notify.wait_for("READY=1", 5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        took = time.monotonic() - sent
        stderr = proc.stderr.read() if proc.stderr else ""
        assert proc.returncode == 0, stderr  # 0: the clean path, not the hard-exit safety net
        assert took < SHUTDOWN_LIMIT_S, f"shutdown took {took:.2f} s"
        assert "SIGTERM: shutting down" in stderr and "Traceback" not in stderr
        assert notify.wait_for("STOPPING=1", 2)
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()


def test_a_thread_that_never_ends_cannot_keep_the_process_alive(tmp_path):
    """The safety net: after SIGTERM the process ends at the deadline even if a stage's thread hangs."""
    notify = NotifySocket(tmp_path)
    proc = start("stuck-thread", tmp_path, notify)
    try:
        wait_line(proc, "status thinking")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == HARD_EXIT_CODE
        assert "shutdown did not finish in time" in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()


def test_watchdog_pings_stop_when_the_capture_hangs(tmp_path):
    notify = NotifySocket(tmp_path)
    proc = start("stall", tmp_path, notify, WATCHDOG_USEC="100000")
    try:
        wait_line(proc, "stalled")
        flowing = notify.receive(0.1)
        hung = notify.receive(0.6)  # six watchdog periods: systemd would have fired
        assert "READY=1\nSTATUS=Listening for the wake word" in flowing
        assert flowing.count("WATCHDOG=1") >= 2
        assert "WATCHDOG=1" not in hung
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
