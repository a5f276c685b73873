"""A real ``assistant`` process built from the named doubles, for signal and watchdog tests.

    python -m tests.service.harness MODE STATE_DIR

MODE ``thinking``: a turn whose model step never returns (like a long ONNX Runtime run).
MODE ``speaking``: a turn whose reply plays until stopped.
MODE ``stall``: audio flows for half a second, then the capture hangs.
MODE ``stuck-thread``: like ``thinking``, plus a stage's non-daemon thread that never ends.
It prints ``status <status>`` and ``stalled`` lines on stdout as they happen. Notifications
go to ``$NOTIFY_SOCKET`` through the real ``Notifier``, exactly as under systemd.
"""

from __future__ import annotations

import sys
import threading
import time

from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.logs import setup_logging
from assistant.protocols import TextDelta
from assistant.service.runner import serve
from assistant.service.sdnotify import Notifier
from assistant.service.wiring import Parts, build_assistant

from .doubles import (
    QUIET_FRAMES,
    WAKE,
    EnergyEndpointer,
    FakeBus,
    FakePlayer,
    FakeTts,
    MarkerDetector,
    RecordingAnnouncer,
    ScriptedEngine,
    ScriptedSource,
    speech,
)


class PrintingAnnouncer(RecordingAnnouncer):
    """FakeAnnouncer that tells the test process each status on stdout."""

    def set_status(self, status: str) -> None:
        super().set_status(status)
        print(f"status {status}", flush=True)


def main(mode: str, state: str) -> int:
    setup_logging(1)
    player = FakePlayer()
    steps: list = [("pace", 5), WAKE, *speech(20), *QUIET_FRAMES, ("pace", 100000)]
    responses: list = [[TextDelta("Thinking hard.")]]
    if mode == "stuck-thread":
        threading.Thread(target=time.sleep, args=(60,), name="stuck-stage-thread").start()
        mode = "thinking"
    if mode == "thinking":
        responses = [[lambda: time.sleep(60), TextDelta("Never said.")]]
    elif mode == "speaking":
        player.hold.set()
    elif mode == "stall":
        steps = [("pace", 50), ("do", lambda: print("stalled", flush=True)), ("stall",)]
    source = ScriptedSource(steps)
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(), ScriptedEngine(responses), FakeBus(), FakeTts(), player,
                  PrintingAnnouncer())
    config = Config(service=ServiceConfig(state_dir=state))
    notifier = Notifier()
    assistant = build_assistant(config, parts, notifier=notifier)
    source.assistant = assistant
    return serve(assistant, notifier)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
