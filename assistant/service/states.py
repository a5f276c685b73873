"""The conversation loop's states, the status each publishes (and the mute it reads), and where a listening
phase stands."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.logs import RateLimitedLog
from assistant.service.arbitration import Ruling
from assistant.service.latency import LatencyRecord
from assistant.service.ports import Announcer
from assistant.service.turn import Turn

IDLE, LISTENING, FOLLOW_UP, THINKING, SPEAKING = "idle", "listening", "follow_up", "thinking", "speaking"
CLAIMING = "claiming"  # woken, buffering the command while other assistants' wake claims may arrive
STATUS = {IDLE: "idle", LISTENING: "listening", FOLLOW_UP: "listening", THINKING: "thinking", SPEAKING: "speaking",
          CLAIMING: "idle"}


def publish_status(announcer: Announcer, state: str, errors: RateLimitedLog) -> None:
    """Publish the status of ``state``; a failure is logged (rate-limited), never raised."""
    try:
        announcer.set_status(STATUS[state])
    except Exception as err:
        errors.warning("cannot publish the status: %s", err)


def is_muted(announcer: Announcer) -> bool:
    """Muted from MQTT; an announcer that cannot tell means not muted."""
    try:
        return bool(announcer.muted)
    except Exception:
        return False


@dataclass
class Listening:
    """Where the current listening phase stands."""

    record: LatencyRecord
    follow_up_until: float | None = None  # stream time; None after a wake word
    speech_started: bool = False
    turn: Turn | None = None  # with ``stream_audio``: the turn already taking the speech as it arrives
    ring: bool = False  # a window in a ring's pause, without the wake word: speech stops the ring
    ruling: Ruling | None = None  # while claiming: which assistant answers this wake word
    held: list[object] = field(default_factory=list)  # endpointer events while claiming, handled once won
