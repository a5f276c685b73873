"""The model step run ahead, while the endpointer's end silence lasts, on the utterance as it would end.

The endpointer closes a turn only after ``vad.end_silence_ms`` of silence, but from the first frames of that
silence it knows the length the utterance will keep if no speech resumes (``LiveAudio.tentative``). Once the
live turn has been fed up to there, :class:`Speculation` finishes a fork of the turn (``AudioTurn.fork``):
its first pass encodes and prefills what the turn had not yet, with the end of the turn, and it draws the
step one token at a time (``Generation.ticks``) until the audio closes or speech resumes.

Nothing leaves the engine early: the events are kept, and the step is handed to the caller only when the
clip closes with exactly the speculated length (``adopt``), so it is the step the close would have started
(same clip, same prompt, same sampling seed, a fresh grammar state). Speech that resumes, or a close at
another length, drops it (``drop``) and the turn goes on from its own state, which the fork never touched.
Between tokens is where it looks up, so speech that resumes waits at most one decoder pass.
"""

from __future__ import annotations

import logging

from assistant.engine.audio.turnmodel import SpokenTurn
from assistant.engine.decoding.timings import now
from assistant.engine.generation import Generation
from assistant.protocols import Event, LiveAudio

log = logging.getLogger("assistant.engine")


class Speculation:
    """A fork of ``turn`` finished at the tentative end ``end`` (samples), advanced while the silence lasts."""

    def __init__(self, turn: SpokenTurn, end: int) -> None:
        self.end = end
        self.generation = turn.fork().finish()
        self.generation.live_rows = turn.prefilled_rows
        self.made: list[Event] = []
        self.done = False
        self.failed = False
        self._started = now()

    def stands(self, live: LiveAudio) -> bool:
        """Whether the utterance may still end where this run assumed (open, and the same tentative end)."""
        return not live.closed and not live.cancelled and live.tentative == self.end

    def run(self, live: LiveAudio) -> None:
        """Draw tokens until the step is done, the audio closes, or speech resumes."""
        if self.done:
            return
        while not self.done and self.stands(live):
            try:
                event = next(self.generation.ticks)
            except StopIteration:
                self.done = True
                break
            except Exception as err:  # the step at the close will meet it again, and report it
                log.warning("the step run ahead failed (%s): it runs again at the end of speech", err)
                self.failed = self.done = True
                break
            if event is not None:
                self.made.append(event)
        self.generation.ahead_s = now() - self._started

    def fits(self, live: LiveAudio) -> bool:
        """Whether the closed clip is the one this run assumed."""
        return live.closed and not live.cancelled and live.keep == self.end and not self.failed

    def adopt(self) -> Generation:
        """The step for the caller: the events made ahead first, then the rest as it is decoded."""
        log.info("the end silence was used: %.2f s of the step ran before the end of speech (%s)",
                 self.generation.ahead_s, "whole step" if self.done else "went on after it")
        return self.generation.resumed(self.made)

    def drop(self) -> None:
        """Speech resumed (or the clip ended elsewhere): give up this run; the turn itself is untouched."""
        close = getattr(self.generation.ticks, "close", None)
        if close is not None:
            close()
