"""Endpointing: turn a stream of frames and VAD decisions into one utterance per request.

Times are seconds on the source's timeline: the time at the *end* of the last frame fed.
``start(t)`` says "now is t, begin listening"; every later frame advances the clock by its
length. Frames fed while not listening only fill the pre-roll buffer.

``SpeechStart`` comes once speech has lasted ``min_speech_ms`` (its ``t`` is when it began),
so clicks and coughs make no event at all. An utterance's ``samples`` run from
``start_t - pre_roll`` to ``end_t`` plus a short tail of the trailing silence (at most
200 ms), and never exceed ``max_speech_s``.

``start(t, after_wake=True)`` hands over from a wake word: the endpointer first waits until
``handover.LOOK_AHEAD_S`` after the detection, finds where the wake phrase ended
(:func:`assistant.audio.handover.boundary`), and only then looks for speech, in the audio after
that point: the utterance (pre-roll included) never holds the phrase's tail, and the pause
after the wake word is never taken for the end of a command that has not begun.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from assistant.audio import handover
from assistant.config.schema import VadConfig
from assistant.protocols import SAMPLE_RATE, Samples, Vad

TAIL_S = 0.2  # trailing silence kept after the last voiced frame
START_FILL = 0.75  # share of the start window that must be voiced
FLOOR_S = 5.0  # the noise floor is a low percentile of the last FLOOR_S of frame levels ...
FLOOR_PERCENTILE = 20
GATE_DB = (3.0, 9.0)  # ... and a frame is speech only if the VAD says so and it stands above the floor by the
# noise's own spread (twice its median's height over the floor, + 2 dB; the median, not a higher percentile, so
# the wake phrase in the window does not count), within these bounds: steady noise (white, a fan) needs little,
# babble's loud moments are ~7 dB over its floor
LEVEL_S = 0.03  # frame levels are smoothed over this long
FLOOR_EVERY_S = 0.1  # the floor is recomputed this often
CONTINUE_DB = 2.0  # once speech has begun, a frame carries it on only if it also stands this much over the gate ...
RESUME_S, RESUME_FILL = 0.1, 0.6  # ... and after a gap such frames must fill 60 % of 100 ms to resume it: a room's
# tail, a note of music or another talker's syllable after the command then no longer restarts the end silence


class NoiseFloor:
    """A running noise-floor estimate (dB): a low percentile of recent smoothed frame levels.

    The VAD alone calls babble, music or a fan "speech"; the user is louder than that noise
    (10 dB and more), so a frame must also stand ``GATE_DB`` above the floor. The floor is
    frozen while an utterance is under way, so the speech itself never raises it."""

    def __init__(self) -> None:
        self._levels: deque[float] = deque()
        self._recent: deque[float] = deque()
        self.floor_db = float("-inf")
        self.level_db = float("-inf")
        self.margin_db = GATE_DB[0]
        self._since = 0

    def update(self, power: float, frame_s: float, learn: bool) -> None:
        self._recent.append(power)
        while len(self._recent) > max(1, round(LEVEL_S / frame_s)):
            self._recent.popleft()
        self.level_db = 10 * math.log10(sum(self._recent) / len(self._recent) + 1.0)
        if not learn:
            return
        self._levels.append(self.level_db)
        keep = max(1, round(FLOOR_S / frame_s))
        while len(self._levels) > keep:
            self._levels.popleft()
        self._since += 1
        if len(self._levels) >= keep // 3 and self._since >= max(1, round(FLOOR_EVERY_S / frame_s)):
            self._since = 0
            low, mid = np.percentile(np.fromiter(self._levels, float), [FLOOR_PERCENTILE, 50])
            self.floor_db = float(low)
            self.margin_db = float(np.clip(2 * (mid - low) + 2.0, *GATE_DB))

    def above(self, extra_db: float = 0.0) -> bool:
        return self.level_db >= self.floor_db + self.margin_db + extra_db


@dataclass(frozen=True)
class SpeechStart:
    t: float


@dataclass(frozen=True)
class Utterance:
    samples: Samples
    start_t: float
    end_t: float
    capped: bool

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class NoSpeech:
    t: float


EndpointEvent = SpeechStart | Utterance | NoSpeech


class Endpointer:
    """Pre-roll, speech start, end silence, minimum length, 30 s cap and no-speech timeout."""

    def __init__(self, config: VadConfig, vad: Vad) -> None:
        self.config = config
        self.vad = vad
        self._t = 0.0
        self._active = False
        self._speaking = False
        self._history: deque[tuple[Samples, bool, float]] = deque()
        self._handover_until: float | None = None
        self.floor = NoiseFloor()
        self._speech: list[Samples] = []
        self._frame_s = 0.0
        self._max_samples = int(config.max_speech_s * SAMPLE_RATE)

    @property
    def active(self) -> bool:
        return self._active

    @property
    def t(self) -> float:
        """Time at the end of the last frame fed."""
        return self._t

    def start(self, t: float, after_wake: bool = False) -> None:
        """Begin listening for one utterance; ``t`` is the time at the end of the last frame.

        ``after_wake``: a wake word was just detected; the command starts after its phrase."""
        self._t = t
        self._listen_t = t
        self._active = True
        self._speaking = False
        self._speech = []
        if after_wake:
            self._handover_until = t + handover.LOOK_AHEAD_S
            return
        self._handover_until = None
        # Keep the audio for the pre-roll, but not the decisions made before listening began.
        self._history = deque(((f, False, p) for f, _, p in self._history), maxlen=self._history.maxlen)

    def speech(self) -> list[Samples]:
        """The frames of the speech under way, pre-roll included (empty when there is none)."""
        return list(self._speech) if self._speaking else []

    def tentative_keep(self) -> int | None:
        """While the end silence of an announced utterance is running: how many samples of ``speech()`` the
        utterance keeps if no speech resumes (the ``Utterance`` would have exactly these); None otherwise."""
        if not (self._active and self._speaking and self._announced and self._silent > 0):
            return None
        end_t = self._last_voiced_t - (0.0 if self._gate_cut else self._hangover_s)
        keep_until = end_t + min(TAIL_S, self.config.end_silence_ms / 1000)
        return max(0, self._speech_len - round((self._t - keep_until) * SAMPLE_RATE))

    def stop(self) -> None:
        """Stop listening without an event (for example when the conversation is cancelled)."""
        self._active = False
        self._speaking = False
        self._speech = []
        self._handover_until = None

    def feed(self, frame: Samples) -> EndpointEvent | None:
        """Feed the next frame; returns at most one event."""
        self._set_frame_length(len(frame))
        self._t += len(frame) / SAMPLE_RATE
        voiced = self.vad.is_speech(frame)  # always, so the VAD keeps tracking the noise floor
        power = float(np.mean(np.square(frame, dtype=np.float64))) if len(frame) else 0.0
        self.floor.update(power, self._frame_s, learn=not self._speaking)
        raw, voiced = voiced, voiced and self.floor.above()
        if not self._active:
            self._remember(frame, voiced, power)
            return None
        if self._speaking:
            return self._continue(frame, voiced and self.floor.above(CONTINUE_DB), raw)
        self._remember(frame, voiced, power)
        if self._handover_until is not None:
            if self._t < self._handover_until - 1e-9:
                return None
            event = self._hand_over()
        else:
            event = self._begin() if self._started() else None
        if event is None and not self._speaking and self._t - self._listen_t >= self.config.no_speech_timeout_s - 1e-9:
            self._active = False
            return NoSpeech(self._t)
        return event

    # -- after a wake word ----------------------------------------------------------------

    def _hand_over(self) -> EndpointEvent | None:
        """Cut the history at the end of the wake phrase, then replay what follows it."""
        self._handover_until = None
        window = list(self._history)[-(self._back_frames + self._ahead_frames) :]
        cut = handover.boundary([v for _, v, _ in window], [p for _, _, p in window], self._frame_s)
        after = window[cut:]
        self._history = deque(maxlen=self._history.maxlen)
        now = self._t
        event: EndpointEvent | None = None
        for k, (frame, voiced, power) in enumerate(after):
            self._t = now - (len(after) - 1 - k) * self._frame_s
            if self._speaking:
                step = self._continue(frame, voiced, voiced)
            else:
                self._remember(frame, voiced, power)
                step = self._begin() if self._started() else None
            event = event or step
        self._t = now
        return event

    # -- waiting for speech ---------------------------------------------------------------

    def _set_frame_length(self, n: int) -> None:
        frame_s = n / SAMPLE_RATE
        if frame_s == self._frame_s:
            return
        self._frame_s = frame_s
        self._start_frames = max(1, round(self.config.start_ms / 1000 / frame_s))
        self._pre_frames = math.ceil(self.config.pre_roll_ms / 1000 / frame_s)
        self._back_frames = math.ceil(handover.LOOK_BACK_S / frame_s - 1e-9)
        self._ahead_frames = math.ceil(handover.LOOK_AHEAD_S / frame_s - 1e-9)
        keep = max(self._start_frames + self._pre_frames, self._back_frames + self._ahead_frames + 1)
        self._history = deque(self._history, maxlen=keep)
        self._hangover_s = float(getattr(self.vad, "hangover_s", 0.0))
        end_wait = max(frame_s, self.config.end_silence_ms / 1000 - self._hangover_s)
        self._end_frames = max(1, math.ceil(end_wait / frame_s - 1e-9))
        self._end_frames_gated = max(1, math.ceil(self.config.end_silence_ms / 1000 / frame_s - 1e-9))
        self._resume_frames = max(1, round(RESUME_S / frame_s))

    def _remember(self, frame: Samples, voiced: bool, power: float) -> None:
        self._history.append((frame, voiced, power))

    def _started(self) -> bool:
        window = list(self._history)[-self._start_frames :]
        if len(window) < self._start_frames:
            return False
        return sum(v for _, v, _ in window) >= math.ceil(START_FILL * self._start_frames) and window[0][1]

    def _begin(self) -> SpeechStart | None:
        frames = list(self._history)
        first = len(frames) - self._start_frames  # the window opens on a voiced frame
        self._speech = [f for f, _, _ in frames[max(0, first - self._pre_frames) :]]
        self._speech_len = sum(len(f) for f in self._speech)
        self._start_t = self._t - self._start_frames * self._frame_s
        self._last_voiced_t = self._t if frames[-1][1] else self._t - self._frame_s
        self._silent = 0 if frames[-1][1] else 1
        self._gate_cut = False
        self._resume: deque[bool] = deque(maxlen=self._resume_frames)
        self._speaking = True
        self._announced = False
        return self._announce()

    def _announce(self) -> SpeechStart | None:
        """SpeechStart once the speech has lasted min_speech_ms, so a click makes no event at all."""
        if self._announced or self._last_voiced_t - self._hangover_s - self._start_t < self.config.min_speech_ms / 1000 - 1e-9:
            return None
        self._announced = True
        return SpeechStart(self._start_t)

    # -- in speech ------------------------------------------------------------------------

    def _continue(self, frame: Samples, voiced: bool, raw: bool) -> EndpointEvent | None:
        """``raw``: the VAD's own decision; ``voiced``: that, the noise-floor gate and ``CONTINUE_DB`` more.
        After a gap, speech resumes only when voiced frames fill ``RESUME_FILL`` of the last ``RESUME_S``.
        When the gate ended the speech while the VAD still said speech, the VAD's hangover is not in the silence."""
        self._speech.append(frame)
        self._speech_len += len(frame)
        if self._silent == 0 and voiced:
            self._last_voiced_t = self._t
        elif self._silent == 0:
            self._gate_cut = raw
            self._silent = 1
            self._resume.clear()
        else:
            self._resume.append(voiced)
            if voiced and sum(self._resume) >= math.ceil(RESUME_FILL * self._resume_frames - 1e-9):
                self._last_voiced_t = self._t
                self._silent = 0
            else:
                self._silent += 1
        if self._speech_len >= self._max_samples:
            return self._finish(self._t, capped=True)
        if self._silent >= (self._end_frames_gated if self._gate_cut else self._end_frames):
            if not self._announced:
                self._speaking = False  # a click or cough: keep waiting, keep the audio for pre-roll
                self._history = deque(((f, False, 0.0) for f in self._speech), maxlen=self._history.maxlen)
                self._speech = []
                return None
            return self._finish(self._last_voiced_t - (0.0 if self._gate_cut else self._hangover_s), capped=False)
        return self._announce()

    def _finish(self, end_t: float, capped: bool) -> Utterance:
        audio = np.concatenate(self._speech)
        if capped:
            audio = audio[: self._max_samples]
        else:
            keep_until = end_t + min(TAIL_S, self.config.end_silence_ms / 1000)
            cut = len(audio) - round((self._t - keep_until) * SAMPLE_RATE)
            audio = audio[: max(0, cut)]
        self._active = False
        self._speaking = False
        self._speech = []
        self._history.clear()
        return Utterance(samples=audio, start_t=self._start_t, end_t=end_t, capped=capped)
