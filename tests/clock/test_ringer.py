"""Ringing on settable clocks: repeats until stopped or for at most ``ring_max_s``, never during a turn,
once for a ring that is late; and in the real loop: set by a tool call, rung after the turn, stopped by the wake word."""

from __future__ import annotations

from assistant.clock.ringer import Ringer
from assistant.clock.tools import ClockBus, ClockTools
from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.protocols import TextDelta, ToolCall
from assistant.service.loop import FOLLOW_UP, IDLE, LISTENING
from assistant.service.sdnotify import Notifier
from assistant.service.wiring import Parts, build_assistant

from ..service.doubles import (
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


class Mono:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _ringer(book, ring_max_s=30.0, pause_s=2.0):
    mono, tts, player = Mono(), FakeTts(), FakePlayer()
    rung: list = []
    return Ringer(book, tts, player, ring_max_s, pause_s, mono=mono, on_ring=rung.extend), mono, tts, player, rung


def _step(ringer, mono, seconds, idle=True):
    mono.t += seconds
    ringer.tick(idle)
    ringer.player.wait(5.0)  # the fake player consumes the chunks on its own thread


def test_a_ring_repeats_with_pauses_until_stopped(book, clock):
    ringer, mono, tts, _player, rung = _ringer(book)
    book.set_timer(60, "pasta")
    _step(ringer, mono, 1)
    assert not ringer.ringing
    clock.advance(60)
    _step(ringer, mono, 1)
    assert ringer.ringing and [r.name for r in rung] == ["pasta"]
    assert tts.said == ["Your pasta timer is done."]
    _step(ringer, mono, 0.3)  # the first cycle has played: the pause starts
    _step(ringer, mono, 1.0)
    assert ringer.cycles == 1
    _step(ringer, mono, 1.5)
    assert ringer.cycles == 2 and tts.said == ["Your pasta timer is done."] * 2
    assert ringer.stop() and not ringer.ringing
    _step(ringer, mono, 10)
    assert ringer.cycles == 2 and not ringer.stop()


def test_nobody_stops_it_so_it_ends_after_ring_max(book, clock):
    ringer, mono, _tts, _player, _ = _ringer(book, ring_max_s=10.0, pause_s=0.0)
    book.set_timer(5)
    clock.advance(5)
    for _ in range(40):
        _step(ringer, mono, 0.3)
    assert not ringer.ringing
    assert 5 <= ringer.cycles <= 40


def test_no_ring_while_a_turn_runs_then_right_after(book, clock):
    ringer, mono, tts, _player, rung = _ringer(book)
    book.set_timer(5, "tea")
    clock.advance(10)
    _step(ringer, mono, 1, idle=False)
    assert not ringer.ringing and not rung
    _step(ringer, mono, 1, idle=True)
    assert ringer.ringing and tts.said == ["Your tea timer is done."]


def test_a_late_ring_is_said_once(book, clock):
    ringer, mono, tts, _player, _ = _ringer(book)
    book.set_timer(60, "rice")
    clock.advance(10 * 60)
    _step(ringer, mono, 1)
    assert tts.said == ["Your rice timer ended 9 minutes ago."]
    _step(ringer, mono, 0.3)
    _step(ringer, mono, 5)
    assert not ringer.ringing and ringer.cycles == 1


def test_set_by_the_model_rung_after_the_turn_and_stopped_by_the_wake_word(tmp_path, book, clock):
    tts, player = FakeTts(), FakePlayer()
    ringer = Ringer(book, tts, player, ring_max_s=120.0, pause_s=0.05)
    states: list[str] = []
    bus = ClockBus(FakeBus(), ClockTools(book, ["pasta"]))
    responses = [
        [ToolCall("set_timer", {"minutes": 1, "name": "pasta"})],
        # the timer ends while this turn runs: it must ring only after the turn
        [lambda: clock.advance(61), TextDelta("Let me think about that.")],
        [ToolCall("end_conversation", {})],
    ]
    source = ScriptedSource([
        WAKE, *speech(20), *QUIET_FRAMES, ("until", lambda a: a.state == IDLE and a.turn is None, 10),
        WAKE, *speech(20), *QUIET_FRAMES, ("until", lambda a: ringer.ringing, 10),
        ("do", lambda: states.append(assistant.state)),
        ("until", lambda a: ringer.cycles >= 2, 10),
        WAKE, ("do", lambda: states.append(assistant.state)), *speech(20), *QUIET_FRAMES,
        ("until", lambda a: a.state == IDLE and a.turn is None, 10),
    ])
    engine = ScriptedEngine(responses)
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(), engine, bus, tts, player, RecordingAnnouncer(),
                  ringer=ringer)
    config = Config(service=ServiceConfig(state_dir=str(tmp_path), follow_up_s=0.0))
    assistant = build_assistant(config, parts, notifier=Notifier(environ={}))
    source.assistant = assistant
    assistant.run()
    assert "Pasta timer set for 1 minute." in tts.said
    assert states == [IDLE, LISTENING], "rang when idle after the turn; the wake word stopped it and listened"
    assert not ringer.ringing and book.timers() == []
    said = tts.said
    assert said.index("Let me think about that.") < said.index("Your pasta timer is done.")
    tool_names = {t["function"]["name"] for t in engine.calls[0][1]}
    assert {"set_timer", "get_time", "add_alarm", "end_conversation"} <= tool_names


def test_speech_in_a_rings_pause_stops_it_without_the_wake_word(tmp_path, book, clock):
    tts, player = FakeTts(), FakePlayer()
    ringer = Ringer(book, tts, player, ring_max_s=120.0, pause_s=5.0)
    bus = ClockBus(FakeBus(), ClockTools(book, ["pasta"]))
    windows: list[bool] = []
    responses = [
        [ToolCall("set_timer", {"minutes": 1, "name": "pasta"})],
        [TextDelta("OK.")],  # "stop", heard in the ring's pause without the wake word
    ]
    source = ScriptedSource([
        WAKE, *speech(20), *QUIET_FRAMES, ("until", lambda a: a.state == IDLE and a.turn is None, 10),
        ("do", lambda: clock.advance(61)),
        ("until", lambda a: a.state == FOLLOW_UP, 10),  # the first cycle has played: the loop listens in the pause
        ("do", lambda: windows.append(bool(assistant.listening and assistant.listening.ring) and ringer.ringing)),
        *speech(20), *QUIET_FRAMES, ("until", lambda a: a.state == IDLE and a.turn is None and len(engine.calls) == 2, 10),
    ])
    engine = ScriptedEngine(responses)
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(), engine, bus, tts, player, RecordingAnnouncer(),
                  ringer=ringer)
    config = Config(service=ServiceConfig(state_dir=str(tmp_path), follow_up_s=0.0))
    assistant = build_assistant(config, parts, notifier=Notifier(environ={}))
    source.assistant = assistant
    assistant.run()
    assert windows == [True], "a listening window in the pause, while the ring was still on"
    assert not ringer.ringing and ringer.cycles == 1, "the speech stopped the ring before its second cycle"
    assert len(engine.calls) == 2 and tts.said[-1] == "OK.", "the speech was a turn of its own"
    assert book.timers() == []


def test_no_listening_window_when_the_ring_has_no_pause(book, clock):
    ringer, mono, _tts, _player, _ = _ringer(book, pause_s=0.0)
    book.set_timer(5)
    clock.advance(5)
    _step(ringer, mono, 1)
    assert ringer.ringing and ringer.pause_left_s() == 0.0
    _step(ringer, mono, 0.3)
    assert ringer.pause_left_s() == 0.0
