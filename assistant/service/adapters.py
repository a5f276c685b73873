"""Small adapters that let the real stages report latency moments without changing them.

The engine measures durations (``Generation.timings``: features, encoder, prefill, first token)
and the MQTT bus keeps ``last_result`` (``puback_s``, ``echo_s``). The service's latency record
wants moments on ``time.monotonic()``; these wrappers turn one into the other and implement
:class:`assistant.service.ports.Timed`. They only use the stages' public attributes (duck typing),
so the service still imports no stage at module level.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from assistant.protocols import Event, Message, ToolCall
from assistant.service.ports import TimingSink


class StageTimings(Protocol):
    """The engine's ``Timings`` fields the adapter reads (seconds)."""

    prompt_s: float
    features_s: float
    encoder_s: float
    prefill_s: float
    first_token_s: float


class Step(Protocol):
    """One model step (a ``Generation``): its timings fill in as it runs."""

    @property
    def timings(self) -> StageTimings: ...

    @property
    def token_ids(self) -> list[int]: ...


StartFn = Callable[[Sequence[Message], Sequence[Mapping[str, Any]]], tuple[Iterator[Event], Step]]
"""``start(messages, tools) -> (events, step)``."""


class _SinkHolder:
    def __init__(self) -> None:
        self._sink: TimingSink | None = None
        self._lock = threading.Lock()

    def set_timing_sink(self, sink: TimingSink | None) -> None:
        with self._lock:
            self._sink = sink

    def _emit(self, stage: str, t: float) -> None:
        with self._lock:
            sink = self._sink
        if sink is not None:
            sink(stage, t)


class TimedEngine(_SinkHolder):
    """An ``Engine`` that marks features, encoder, prefill and first token from the model's timings.

    Moments are the call's start plus the measured durations in the order the model runs them
    (prompt rendering, features, encoder, [embedding lookup, not timed], prefill). ``inner`` is
    the wrapped object (``GemmaModel`` or ``GrammarEngine``), kept for callers that need it.
    """

    def __init__(self, start: StartFn, inner: Any = None) -> None:
        super().__init__()
        self._start = start
        self.inner = inner
        self.last: Step | None = None  # the latest model step (``assistant ask`` prints its timings)

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]:
        t0 = time.monotonic()
        events, step = self._start(messages, tools)
        live = messages[-1].live if messages else None
        if live is not None and live.closed:  # the start took the speech as it arrived (returning once the engine
            t0 = time.monotonic()  # had caught up with it): the step's stages run from now, not from the close
        self.last = step
        timings = step.timings
        ahead = float(getattr(step, "ahead_s", 0.0) or 0.0)  # run ahead of the close: ready at the close at the earliest
        marked = False
        try:
            for event in events:
                if not marked:
                    marked = True
                    self._mark(t0, timings, ahead)
                yield event
        finally:
            if not marked and timings.prefill_s > 0:
                self._mark(t0, timings, ahead)
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _mark(self, t0: float, timings: StageTimings, ahead: float = 0.0) -> None:
        """Stage moments from the step's start (``ahead`` seconds before ``t0`` for a step run ahead of the
        close), none before ``t0``: what was computed ahead is ready at the close, not earlier."""
        t = t0 - ahead + timings.prompt_s

        def emit(stage: str, moment: float) -> None:
            self._emit(stage, max(t0, moment))

        if timings.features_s > 0 or timings.encoder_s > 0:
            emit("features", t + timings.features_s)
            emit("encoder", t + timings.features_s + timings.encoder_s)
        t += timings.features_s + timings.encoder_s
        emit("prefill", t + timings.prefill_s)
        if timings.first_token_s > 0:
            emit("first_token", t + timings.first_token_s)


def model_start(model: Any) -> StartFn:
    """``GemmaModel``: its ``stream`` with the configured system prompt (the ``Generation`` has timings)."""

    def start(messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> tuple[Iterator[Event], Step]:
        generation = model.stream(model.with_system_prompt(messages), tools)
        return iter(generation), generation

    return start


def grammar_start(engine: Any) -> StartFn:
    """``GrammarEngine``: its ``generate``; the timings are those of ``engine.last``."""

    def start(messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]) -> tuple[Iterator[Event], Step]:
        events = engine.generate(messages, tools)
        return events, engine.last

    return start


class TimedBus(_SinkHolder):
    """The ``Bus`` of ``home`` (``assistant.home.Home``), marking PUBACK and state echo from ``bus.last_result``.

    The moments are the call's start plus ``puback_s`` / ``echo_s`` (both measured by the bus from
    when it began publishing, a few validation microseconds after the call started).
    """

    def __init__(self, home: Any) -> None:
        super().__init__()
        self.home = home

    def tools(self, utterance_hint: str = "") -> list[dict[str, Any]]:
        return list(self.home.tools(utterance_hint))

    def tool_schema(self, utterance_hint: str = "") -> dict[str, dict[str, Any]]:
        return dict(self.home.tool_schema(utterance_hint))

    def execute(self, call: ToolCall) -> str:
        before = self.home.bus.last_result
        t0 = time.monotonic()
        spoken = str(self.home.execute(call))
        result = self.home.bus.last_result
        if result is not None and result is not before:
            if result.puback_s is not None:
                self._emit("puback", t0 + result.puback_s)
            if result.echo_s is not None:
                self._emit("state_echo", t0 + result.echo_s)
        return spoken


def latency_sensor(publish: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """The MQTT latency sensor's publisher: the record plus ``total_ms`` (end of speech to first audio out,
    the sensor's state) and each stage as a flat ``<stage>_ms`` attribute."""

    def send(record: dict[str, Any]) -> None:
        ms = record.get("ms", {})
        publish({**record, "total_ms": ms.get("first_audio"), **{f"{k}_ms": v for k, v in ms.items()}})

    return send
