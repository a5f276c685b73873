"""SIGTERM/SIGINT/SIGHUP set one stop: every loop sees it and the process exits within 2 s.

A second signal, or the deadline passing, ends the process at once: a model step that
cannot be interrupted must never keep systemd waiting.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("assistant.signals")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
HARD_EXIT_CODE = 70


class StopOnSignal:
    """Installs the handlers on enter (main thread only) and restores them on exit."""

    def __init__(self, stop: Callable[[], None], deadline_s: float = 1.8) -> None:
        self._stop = stop
        self._deadline_s = deadline_s
        self._previous: dict[int, object] = {}
        self.received: int | None = None
        self._timer: threading.Timer | None = None

    def __enter__(self) -> StopOnSignal:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        # After a signal the deadline timer stays armed: it also covers the interpreter's exit
        # (a stage's non-daemon thread that never ends). Without a signal there is no timer.
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(HARD_EXIT_CODE)
        self.received = signum
        log.info("%s: shutting down", signal.Signals(signum).name)
        self._timer = threading.Timer(self._deadline_s, _hard_exit)
        self._timer.daemon = True
        self._timer.start()
        self._stop()


def _hard_exit() -> None:
    log.error("shutdown did not finish in time: exiting now")
    logging.shutdown()
    os._exit(HARD_EXIT_CODE)
