"""systemd's notify protocol without libsystemd: datagrams to ``$NOTIFY_SOCKET``.

``READY=1`` once the model and microphone are ready, ``STATUS=...`` while loading,
``WATCHDOG=1`` from the main loop while audio flows, ``STOPPING=1`` on shutdown.
Without ``$NOTIFY_SOCKET`` (not under systemd) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger("assistant.sdnotify")


class Notifier:
    """Sends notify messages; failures are logged once and never raised."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if path.startswith("@"):
            self.address = b"\0" + path[1:].encode()
        elif path.startswith("/"):
            self.address = path
        self.watchdog_s = _watchdog_interval(env)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields as one datagram; True when it was sent."""
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block: with systemd (or a test) not reading, a full queue drops the message instead of
            # stalling the main loop (whose stall the watchdog exists to catch).
            self._sock.sendto("\n".join(fields).encode(), socket.MSG_DONTWAIT, self.address)
            return True
        except OSError as err:
            if not self._warned:
                log.warning("cannot notify systemd at %r: %s", self.address, err)
                self._warned = True
            return False

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text.splitlines()[0] if text else ''}")

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def extend_timeout(self, seconds: float) -> bool:
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """The watchdog period in seconds, if systemd set one for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1e6


class WatchdogPinger:
    """Pings at half the watchdog period, only when ``tick`` is called (once per audio frame).

    Calling it from the loop that consumes audio ties the ping to audio flowing: when the
    capture stalls, ticks stop, pings stop, and systemd restarts the service.
    """

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.interval = notifier.watchdog_s / 2 if notifier.watchdog_s else None
        self._last = float("-inf")
        self.pings = 0

    def tick(self, now: float | None = None) -> None:
        if self.interval is None:
            return
        now = time.monotonic() if now is None else now
        if now - self._last >= self.interval:
            self._last = now
            if self.notifier.watchdog():
                self.pings += 1
