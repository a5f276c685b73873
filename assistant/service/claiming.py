"""Wake arbitration inside the loop: the claim sent when the wake word is heard, and the ruling awaited
while CLAIMING (the command is buffered meanwhile; the endpointer's events are held, replayed once won)."""

from __future__ import annotations

import logging

from assistant.service.arbitration import Decided, LevelMeter, Ruling, WakeArbiter, WakeEvidence
from assistant.service.ports import SpeechStart, Utterance, WakeDetector
from assistant.service.states import Listening

log = logging.getLogger("assistant.loop")


def claim(arbiter: WakeArbiter, meter: LevelMeter, detector: WakeDetector, in_conversation: bool) -> Ruling:
    """Tell the other assistants how well this one heard the wake word; never raises."""
    evidence = WakeEvidence(meter.level_db(), float(getattr(detector, "score", 1.0) or 0.0))
    try:
        return arbiter.claim(evidence, in_conversation)
    except Exception as err:
        log.warning("wake arbitration failed (%s): answering alone", err)
        return Decided(True)


def outcome(ruling: Ruling, now: float) -> bool | None:
    """The ruling's outcome at ``now`` (None: undecided); a failing arbiter means answering alone."""
    try:
        return ruling.outcome(now)
    except Exception as err:
        log.warning("wake arbitration failed (%s): answering alone", err)
        return True


def settle(listening: Listening, now: float) -> bool | None:
    """While claiming: the ruling's outcome once decided (then the ruling is cleared and, when won, the
    "arbitration" moment marked); None while undecided or when nothing is being claimed."""
    if listening.ruling is None:
        return None
    won = outcome(listening.ruling, now)
    if won is None:
        return None
    listening.ruling = None
    if won:
        listening.record.mark("arbitration", now)
    return won


def take_held(listening: Listening) -> list[object]:
    """The endpointer events held while claiming, to handle once won; when the whole command arrived
    meanwhile, its start of speech is dropped (the utterance carries it)."""
    held, listening.held = listening.held, []
    if any(isinstance(e, Utterance) for e in held):
        return [e for e in held if not isinstance(e, SpeechStart)]
    return held
