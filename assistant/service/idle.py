"""What the loop does while idle besides waiting for the wake word: announcements spoken unasked
(:class:`Interjector`, through the ``Interjections`` port) and the listening window in a ring's pause."""

from __future__ import annotations

import logging
from typing import Literal

from assistant.service.ports import Interjections, Player, Ringer, WakeDetector

log = logging.getLogger("assistant.loop")


class Interjector:
    """Plays the next interjection while the loop is idle, and tells the loop when it starts and ends;
    the wake word interrupts it like a reply. Never during a turn, listening or a follow-up."""

    def __init__(self) -> None:
        self.active = False

    def poll(self, source: Interjections | None, player: Player, detector: WakeDetector, *,
             idle: bool, speaking: bool) -> Literal["started", "finished"] | None:
        """``idle``: idle with no turn under way; ``speaking``: the loop is SPEAKING. "started": the loop
        goes SPEAKING; "finished": it has played, the loop goes back to idle."""
        if self.active:
            if not speaking:
                self.active = False
            elif not player.speaking:
                self.active = False
                detector.gate(False)
                return "finished"
            return None
        if source is None or not idle:
            return None
        job = source.next_job()
        if job is None:
            return None
        self.active = True
        detector.gate(True)
        player.play(job)
        return "started"


def ring_pause_s(ringer: Ringer | None, idle: bool) -> float:
    """Idle in a pause of a ring: how long the loop listens without the wake word (a follow-up window),
    so that "stop" (any speech) ends the ring; the next cycle plays when the window closes. 0: no window."""
    if ringer is None or not idle:
        return 0.0
    return ringer.pause_left_s()


def stop_ring(ringer: Ringer | None, why: str) -> None:
    """Stop the ring, if one is ringing (the wake word, or speech in a ring's pause)."""
    if ringer is not None and ringer.stop():
        log.info("%s: the ring is stopped", why)
