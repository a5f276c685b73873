"""The conversation loop: idle → wake → listening → thinking → speaking → follow-up → idle.

The main thread runs :meth:`Assistant.run`: it takes every audio frame, feeds the wake
word and the endpointer, pings the watchdog, and changes state. Turns run on the engine
thread (utterance queue of 1); tool calls on the actions thread; audio on the player's
thread. Those threads report back through a control queue that the main loop drains once
per frame, so all state changes happen on one thread. Stream time (seconds of audio
seen) drives the follow-up window; the monotonic clock drives latency records.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import cast

from assistant.config.schema import ServiceConfig
from assistant.logs import RateLimitedLog
from assistant.protocols import SAMPLE_RATE, AudioSource, LiveAudio, Message, Samples
from assistant.service import claiming, states
from assistant.service.arbitration import LevelMeter, Ruling, SoloArbiter, WakeArbiter
from assistant.service.idle import Interjector, ring_pause_s, stop_ring
from assistant.service.latency import LatencyLog, LatencyRecord
from assistant.service.ports import Announcer, Endpointer, Interjections, NoSpeech, SpeechStart, Utterance, WakeDetector
from assistant.service.sdnotify import WatchdogPinger
from assistant.service.states import CLAIMING, FOLLOW_UP, IDLE, LISTENING, SPEAKING, THINKING, Listening, is_muted, publish_status
from assistant.service.tones import no_speech_tone
from assistant.service.turn import Stages, Turn, TurnResult
from assistant.service.worker import TurnWorker

log = logging.getLogger("assistant.loop")

DRAIN_TIMEOUT_S = 600.0
CONTROL_QUEUE = 64  # a few events per turn; never full in practice


class Assistant:
    """Owns the loop and its threads. ``run`` on the main thread; ``stop`` from anywhere."""

    def __init__(
        self,
        source: AudioSource,
        detector: WakeDetector,
        endpointer: Endpointer,
        stages: Stages,
        announcer: Announcer,
        latency: LatencyLog,
        settings: ServiceConfig,
        pinger: WatchdogPinger | None = None,
        on_first_frame: Callable[[], None] = lambda: None,
        on_turn: Callable[[Turn, TurnResult], None] = lambda turn, result: None,
        on_close: Callable[[], None] = lambda: None,
        interjections: Interjections | None = None,
        arbiter: WakeArbiter | None = None,
    ) -> None:
        self.source, self.detector, self.endpointer = source, detector, endpointer
        self.stages, self.announcer, self.latency = stages, announcer, latency
        self.settings = settings
        self.pinger = pinger
        self.arbiter: WakeArbiter = arbiter or SoloArbiter()
        self.meter = LevelMeter()
        self._on_first_frame = on_first_frame
        self.on_turn = on_turn
        self._on_close = on_close
        self.state = IDLE
        self.stream_t = 0.0
        self.frames = 0
        self.history: list[list[Message]] = []
        self.turn: Turn | None = None
        self.listening: Listening | None = None
        self.stopping = threading.Event()
        self.transitions: list[str] = [IDLE]
        self._frame_mono = time.monotonic()
        self._ids = itertools.count(1)
        self._control: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=CONTROL_QUEUE)
        self._worker = TurnWorker(self.stopping, lambda turn, result: self._post("done", (turn, result)))
        self._announce_errors = RateLimitedLog(log)
        self._closed = False
        self.interjections = interjections  # what the assistant says unasked (announcements), when idle
        self._interjector = Interjector()

    # ---- public -------------------------------------------------------------------------
    def run(self) -> None:
        """Consume audio until the source ends or ``stop`` is called, then shut down."""
        self._worker.start()
        self._announce(IDLE)
        try:
            for frame in self.source.frames():
                if self.stopping.is_set():
                    break
                self.on_frame(frame)
            if not self.stopping.is_set():
                self._drain()
        finally:
            self.close()

    def stop(self) -> None:
        """Ask the loop to end (signal handlers call this); safe from any thread."""
        self.stopping.set()
        listening = self.listening
        for turn in (self.turn, listening.turn if listening is not None else None):
            if turn is not None:
                turn.cancel()
        try:
            self.source.close()
        except Exception as err:
            log.debug("closing the audio source: %s", err)

    def trigger(self) -> None:
        """Start listening as if the wake word was heard (push-to-talk, ``run --wav --no-wake``)."""
        self._post("listen", None)

    # ---- per frame ----------------------------------------------------------------------
    def on_frame(self, frame: Samples) -> None:
        self._frame_mono = time.monotonic()
        if self.frames == 0:
            self._on_first_frame()
        self.frames += 1
        self.stream_t += len(frame) / SAMPLE_RATE
        self._drain_control()
        if not self._engine_stuck() and self.pinger is not None:
            self.pinger.tick(self._frame_mono)
        ringer = self.stages.ringer
        if ringer is not None:
            ringer.tick(self.state == IDLE)
        if self.state in (IDLE, LISTENING, FOLLOW_UP, CLAIMING) and is_muted(self.announcer):
            self._while_muted()
            self._interject()
            return
        self.meter.feed(frame)
        if self.state == IDLE:  # the endpointer keeps the pre-roll and the VAD's noise floor, and sees the wake phrase
            self.endpointer.feed(frame)
        heard = self.detector.detect(frame)
        if heard:
            stop_ring(ringer, "wake word")
        in_ring_window = self.state == FOLLOW_UP and self.listening is not None and self.listening.ring
        if heard and (self.state == IDLE or in_ring_window):
            log.info("wake word")
            self._listen(wake=True, after_phrase=True, ruling=self._claim(in_conversation=False))
        elif heard and self.state in (THINKING, SPEAKING):
            self._claim(in_conversation=True)
            self._barge_in()
        elif self.state in (LISTENING, FOLLOW_UP, CLAIMING):
            if heard and self.state != CLAIMING:  # the wake word again while it listens: it keeps the conversation
                self._claim(in_conversation=True)
            self._feed_endpointer(frame)
            if self.state == CLAIMING:
                self._poll_ruling()
        self._listen_in_ring_pause()
        self._interject()

    def _listen_in_ring_pause(self) -> None:
        """Idle in a pause of a ring: listen without the wake word for the rest of the pause (see ``idle``)."""
        pause_s = ring_pause_s(self.stages.ringer, self.state == IDLE and self.turn is None and not self._interjector.active)
        if pause_s > 0:
            self._listen(wake=False, follow_up_s=pause_s)
            assert self.listening is not None
            self.listening.ring = True

    def _interject(self) -> None:
        """Idle: speak what waits unasked (an announcement) as SPEAKING, back to idle when it has played."""
        step = self._interjector.poll(self.interjections, self.stages.player, self.detector,
                                      idle=self.state == IDLE and self.turn is None, speaking=self.state == SPEAKING)
        if step == "finished":
            self._to_idle()
        elif step == "started":
            self._set_state(SPEAKING)

    def _while_muted(self) -> None:
        """Muted (from MQTT): no wake-word detection and no listening; a reply already under way finishes."""
        if self.state != IDLE:
            log.info("muted: no longer listening")
            self._to_idle()

    def _engine_stuck(self) -> bool:
        """A turn past ``service.turn_timeout_s``: abandon it; while the engine thread stays stuck,
        withhold the watchdog so systemd restarts the service."""
        if not self._worker.overdue(self._frame_mono, self.settings.turn_timeout_s):
            return False
        if self.turn is not None:
            log.error("turn %d is still running after %g s: abandoning it", self.turn.id, self.settings.turn_timeout_s)
            self.turn.cancel()
            self.stages.player.stop()
            self.detector.gate(False)
            self.turn = None
            self._to_idle()
        return True

    # ---- wake arbitration ---------------------------------------------------------------
    def _claim(self, in_conversation: bool) -> Ruling:
        return claiming.claim(self.arbiter, self.meter, self.detector, in_conversation)

    def _poll_ruling(self) -> None:
        """While claiming: once decided, listen on (won, replaying what the endpointer saw) or go quietly idle."""
        listening = self.listening
        won = claiming.settle(listening, self._frame_mono) if listening is not None else None
        if won is False:
            self._to_idle()
        elif won and listening is not None:
            self._set_state(LISTENING)
            for event in claiming.take_held(listening):
                if self.listening is listening:
                    self._on_endpoint(listening, event)

    def _feed_endpointer(self, frame: Samples) -> None:
        listening = self.listening
        assert listening is not None
        event = self.endpointer.feed(frame)
        if listening.ring and isinstance(event, (SpeechStart, Utterance)) and self.stages.ringer is not None:
            listening.ring = False
            stop_ring(self.stages.ringer, "speech in the ring's pause")
        if listening.turn is not None and listening.turn.live is not None:
            listening.turn.live.append(frame)
            listening.turn.live.pause(self.endpointer.tentative_keep())  # the end silence has begun (or not)
        if self.state == CLAIMING:
            if event is not None:
                listening.held.append(event)
            return
        self._on_endpoint(listening, event)

    def _on_endpoint(self, listening: Listening, event: object) -> None:
        if isinstance(event, SpeechStart):
            listening.speech_started = True
            listening.record.mark("speech_start", self._mono(event.t))
            if self.stages.stream_audio:
                self._start_live_turn(listening)
        elif isinstance(event, Utterance):
            listening.record.mark("speech_start", self._mono(event.start_t))
            listening.record.mark("speech_end", self._mono(event.end_t))
            if event.capped:
                log.info("utterance reached the length cap")
            if listening.turn is not None:
                self._end_live_turn(listening.turn, len(event.samples))
            else:
                self._start_turn(event.samples, listening.record)
        elif isinstance(event, NoSpeech) or (
            listening.follow_up_until is not None and not listening.speech_started and self.stream_t >= listening.follow_up_until
        ):
            if self.state == LISTENING:
                log.info("no speech after the wake word")
                self.stages.player.play(no_speech_tone())
            self._to_idle()

    # ---- transitions --------------------------------------------------------------------
    def _listen(self, wake: bool, follow_up_s: float | None = None, after_phrase: bool = False,
                ruling: Ruling | None = None) -> None:
        """``after_phrase``: a spoken wake word was heard; the command is the speech after its phrase.
        ``ruling``: the claim of this wake word among the assistants on the broker (None: answer alone)."""
        if ruling is not None and ruling.outcome(self._frame_mono) is False:
            return  # another assistant already took this wake word
        record = LatencyRecord(next(self._ids))
        if wake:
            record.mark("wake", self._frame_mono)
        until = self.stream_t + follow_up_s if follow_up_s is not None else None
        self.listening = Listening(record, follow_up_until=until)
        self.endpointer.start(self.stream_t, after_wake=True) if after_phrase else self.endpointer.start(self.stream_t)
        if ruling is not None and ruling.outcome(self._frame_mono) is None:
            self.listening.ruling = ruling
            self._set_state(CLAIMING)
            return
        self._set_state(FOLLOW_UP if follow_up_s is not None else LISTENING)

    def _start_turn(self, samples: Samples, record: LatencyRecord) -> None:
        turn = self._new_turn(samples, record)
        self.turn, self.listening = turn, None
        self._set_state(THINKING)
        self._worker.put(turn)

    def _start_live_turn(self, listening: Listening) -> None:
        """At the start of speech: the turn begins on the engine thread, fed the speech as it arrives."""
        live = LiveAudio()
        for frame in self.endpointer.speech():
            live.append(frame)
        listening.turn = self._new_turn(live, listening.record)
        self._worker.put(listening.turn)

    def _end_live_turn(self, turn: Turn, keep: int) -> None:
        """At the end of speech: the live turn's audio is complete (the utterance's ``keep`` samples: the
        trailing silence the engine has not taken yet is dropped); the loop now waits for its reply."""
        assert turn.live is not None
        turn.live.close(keep)
        self.turn, self.listening = turn, None
        self._set_state(THINKING)

    def _new_turn(self, samples: Samples | LiveAudio, record: LatencyRecord) -> Turn:
        history = [m for turn in self.history for m in turn]
        turn = Turn(record.turn, samples, history, self.stages, record, on_speaking=lambda: self._post("speaking", turn))
        return turn

    def _barge_in(self) -> None:
        log.info("wake word while %s: interrupting", self.state)
        if self.turn is not None:
            self.turn.cancel()
        self.stages.player.stop()
        self.detector.gate(False)
        self.turn = None
        self._listen(wake=True, after_phrase=True)

    def _turn_done(self, turn: Turn, result: TurnResult) -> None:
        turn.record.outcome = result.outcome
        self.latency.finish(turn.record)
        try:
            self.on_turn(turn, result)
        except Exception as err:
            log.warning("turn callback failed: %s", err)
        if result.messages and result.outcome == "ok":
            self.history.append(result.messages)
            del self.history[: max(0, len(self.history) - self.settings.history_turns)]
        if turn is not self.turn:
            return  # a turn interrupted by barge-in: the loop has moved on
        self.turn = None
        self.detector.gate(False)
        if result.outcome == "ok" and self.settings.follow_up_s > 0:
            self._listen(wake=False, follow_up_s=self.settings.follow_up_s)
        else:
            self._to_idle()

    def _to_idle(self) -> None:
        self._drop_live_turn()
        self.listening = None
        if self.state != IDLE:
            self.history.clear()
        self._set_state(IDLE)

    def _drop_live_turn(self) -> None:
        """A turn that started with the speech but whose speech never ended (muted, stopped, audio ended)."""
        if self.listening is not None and self.listening.turn is not None:
            self.listening.turn.cancel()
            self.listening.turn = None

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        log.debug("%s -> %s", self.state, state)
        self.state = state
        self.transitions.append(state)
        if states.STATUS[state] != states.STATUS[self.transitions[-2]]:
            self._announce(state)

    def _announce(self, state: str) -> None:
        publish_status(self.announcer, state, self._announce_errors)

    def _mono(self, t: float) -> float:
        """Stream time to the monotonic clock, through the newest frame's arrival."""
        return self._frame_mono - (self.stream_t - t)

    # ---- threads ------------------------------------------------------------------------
    def _post(self, kind: str, payload: object) -> None:
        try:
            self._control.put((kind, payload), timeout=1.0)
        except queue.Full:
            log.error("control queue full: dropping %s", kind)

    def _drain_control(self) -> None:
        while True:
            try:
                kind, payload = self._control.get_nowait()
            except queue.Empty:
                return
            if kind == "speaking" and payload is self.turn and self.state == THINKING:
                self.detector.gate(True)
                self._set_state(SPEAKING)
            elif kind == "done":
                done_turn, result = cast(tuple[Turn, TurnResult], payload)
                self._turn_done(done_turn, result)
            elif kind == "listen" and self.state in (IDLE, FOLLOW_UP):
                self._listen(wake=True)

    def _drain(self) -> None:
        """The audio ended (``run --wav``): let the current turn finish, then return."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while not self.stopping.is_set() and time.monotonic() < deadline:
            self._drain_control()
            self._interject()
            if self.state not in (THINKING, SPEAKING):
                return
            time.sleep(0.02)

    def close(self) -> None:
        """Stop every thread; bounded, so SIGTERM exits well within 2 s."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self._drop_live_turn()
        if self.turn is not None:
            self.turn.cancel()
        for step in (self.stages.player.stop, lambda: self._worker.join(0.5),
                     lambda: self.stages.actions.close(0.3), self.stages.player.close, self.source.close,
                     self._on_close):
            try:
                step()
            except Exception as err:
                log.debug("during shutdown: %s", err)
        self._drain_control()
        self._announce(IDLE)
