"""Tool calls run on their own thread, in order, as soon as the model completes each one.

The engine keeps decoding while a command waits for the broker's PUBACK and the device's
state echo. The bus validates every call (``Bus.execute``) and returns a short sentence,
which is spoken. A bus that fails is reported as one spoken sentence and a log line; it
never ends the turn or the loop.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass, field

from assistant.protocols import Bus, ToolCall

log = logging.getLogger("assistant.actions")

BUS_FAILED = "Sorry, I could not reach the smart home."
MAX_PENDING = 16


@dataclass
class Action:
    """One tool call and, once done, its spoken result."""

    call: ToolCall
    cancelled: threading.Event
    result: str = ""
    failed: bool = False
    skipped: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class ActionRunner:
    """A daemon thread that executes queued tool calls through the bus, one at a time."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._queue: queue.Queue[Action | None] = queue.Queue(maxsize=MAX_PENDING)
        self._thread = threading.Thread(target=self._run, name="actions", daemon=True)
        self._thread.start()

    def submit(self, call: ToolCall, cancelled: threading.Event) -> Action:
        """Queue a call; when the queue is full the call is refused (never blocks the engine)."""
        action = Action(call, cancelled)
        try:
            self._queue.put_nowait(action)
        except queue.Full:
            log.warning("too many pending commands; dropping %s", call.name)
            action.failed, action.result = True, BUS_FAILED
            action.done.set()
        return action

    def _run(self) -> None:
        while (action := self._queue.get()) is not None:
            try:
                self._execute(action)
            finally:
                action.done.set()

    def _execute(self, action: Action) -> None:
        if action.cancelled.is_set():
            action.skipped = True
            log.info("turn cancelled: not sending %s", action.call.name)
            return
        try:
            action.result = self._bus.execute(action.call)
        except Exception as err:
            action.failed, action.result = True, BUS_FAILED
            log.warning("command %s failed: %s", action.call.name, err or type(err).__name__)

    def close(self, timeout: float = 0.5) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout)
