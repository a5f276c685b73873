"""The engine thread: runs the loop's turns one at a time from a queue of one and reports each result."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from assistant.service.turn import Turn, TurnResult

log = logging.getLogger("assistant.loop")


class TurnWorker:
    """``put`` from the main thread; ``done(turn, result)`` is called on the engine thread for every turn
    taken (the loop posts it to its control queue). ``busy_since``: when the current turn was taken."""

    def __init__(self, stopping: threading.Event, done: Callable[[Turn, TurnResult], None]) -> None:
        self._stopping, self._done = stopping, done
        self._turns: queue.Queue[Turn | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self.busy_since: float | None = None

    def start(self) -> None:
        self._thread.start()

    def put(self, turn: Turn) -> None:
        try:
            self._turns.put_nowait(turn)
        except queue.Full:  # a stale, cancelled turn still waits: replace it
            stale = self._turns.get_nowait()
            if stale is not None:
                self._done(stale, TurnResult("cancelled"))
            self._turns.put_nowait(turn)

    def overdue(self, now: float, limit_s: float) -> bool:
        """The current turn was taken more than ``limit_s`` before ``now`` (monotonic)."""
        since = self.busy_since
        return since is not None and now - since > limit_s

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                turn = self._turns.get(timeout=0.1)
            except queue.Empty:
                continue
            if turn is None:
                return
            self.busy_since = time.monotonic()
            try:
                result = TurnResult("cancelled") if turn.cancelled.is_set() else turn.run()
            except Exception as err:  # a stage failed outside the engine: never leave the loop "thinking"
                log.error("turn %d failed: %s", turn.id, err or type(err).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
                turn.cancel()
                result = TurnResult("failed")
            self.busy_since = None
            self._done(turn, result)
