"""The conversation loop's state machine, driven by named doubles (see ``doubles.py``)."""

from __future__ import annotations

import json

from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.protocols import TextDelta, ToolCall
from assistant.service.actions import BUS_FAILED
from assistant.service.latency import FILE_NAME
from assistant.service.loop import FOLLOW_UP, IDLE, LISTENING, SPEAKING, THINKING
from assistant.service.sdnotify import Notifier
from assistant.service.turn import ENGINE_FAILED, NOT_UNDERSTOOD, STOP_TOOL_NAME
from assistant.service.wiring import Parts, build_assistant

from .doubles import (
    FRAME,
    SILENCE,
    WAKE,
    EnergyEndpointer,
    FakeBus,
    FakePlayer,
    FakeTts,
    LiveScriptedEngine,
    MarkerDetector,
    RecordingAnnouncer,
    ScriptedEngine,
    ScriptedSource,
    speech,
)

QUIET = [SILENCE] * 6  # the endpointer ends an utterance after 5 quiet frames


def until(state: str, timeout: float = 10.0):
    """A script step: real-time-ish silence until the loop is in ``state`` (and, when idle, no turn runs)."""
    if state in (IDLE, FOLLOW_UP):
        return ("until", lambda a: a.state == state and a.turn is None, timeout)
    return ("until", lambda a: a.state == state, timeout)


def command(frames: int = 20) -> list:
    """Wake word, speech, and the silence that ends it."""
    return [WAKE, *speech(frames), *QUIET]


class Rig:
    """One assistant built from doubles by the real ``build_assistant``."""

    def __init__(self, tmp_path, steps, responses, bus=None, live=False, **service):
        settings = {"state_dir": str(tmp_path), "follow_up_s": 0.3, **service}
        self.config = Config(service=ServiceConfig(**settings))
        self.source = ScriptedSource(steps)
        self.engine = LiveScriptedEngine(responses) if live else ScriptedEngine(responses)
        self.bus = bus or FakeBus()
        self.tts = FakeTts()
        self.player = FakePlayer()
        self.detector = MarkerDetector()
        self.endpointer = EnergyEndpointer()
        self.announcer = RecordingAnnouncer()
        parts = Parts(self.source, self.detector, self.endpointer, self.engine, self.bus, self.tts, self.player,
                      self.announcer, stream_audio=live)
        self.assistant = build_assistant(self.config, parts, notifier=Notifier(environ={}))
        self.source.assistant = self.assistant
        self.records_path = tmp_path / FILE_NAME

    def run(self):
        self.assistant.run()
        return self

    def records(self):
        if not self.records_path.exists():
            return []
        return [json.loads(line) for line in self.records_path.read_text().splitlines()]


def test_full_turn_runs_tool_before_reply_ends_then_follow_up_then_idle(tmp_path):
    bus = FakeBus()
    response = [
        ToolCall("light_turn_on", {"area": "kitchen"}),
        lambda: bus.execute_event.wait(5),  # the engine goes on only once the command was sent
        TextDelta("Turning on "),
        TextDelta("the kitchen light. Anything"),
        TextDelta(" else?"),
    ]
    rig = Rig(tmp_path, [SILENCE, SILENCE, *command(20), until(IDLE)], [response], bus=bus).run()

    assert rig.assistant.transitions == [IDLE, LISTENING, THINKING, SPEAKING, FOLLOW_UP, IDLE]
    assert rig.announcer.statuses[:6] == ["idle", "listening", "thinking", "speaking", "listening", "idle"]
    messages, tools = rig.engine.calls[0]
    assert messages[0].role == "system" and messages[0].text == rig.config.model.system_prompt
    assert messages[-1].role == "user" and messages[-1].audio is not None and len(messages[-1].audio) == 20 * FRAME
    assert [t["function"]["name"] for t in tools] == ["light_turn_on", STOP_TOOL_NAME]
    assert bus.executed == [ToolCall("light_turn_on", {"area": "kitchen"})]
    assert rig.tts.said == ["Turning on the kitchen light.", "Anything else?", "The kitchen light is on."]
    assert len(rig.player.played) == 3
    assert rig.detector.gates == [True, False]  # gated only while speaking
    (record,) = rig.records()
    assert record["outcome"] == "ok"
    expected = {"speech_start", "speech_end", "features", "prefill", "first_token", "tool_call", "puback", "first_audio"}
    assert set(record["ms"]) == expected
    assert list(rig.assistant.latency.records) == [record]


def test_follow_up_needs_no_wake_word_and_carries_the_conversation(tmp_path):
    steps = [*command(20), until(FOLLOW_UP), *speech(15), *QUIET, until(IDLE)]
    rig = Rig(tmp_path, steps, [[TextDelta("Hi.")], [TextDelta("Sure.")]]).run()

    assert rig.assistant.transitions == [IDLE, LISTENING, THINKING, SPEAKING, FOLLOW_UP, THINKING, SPEAKING, FOLLOW_UP, IDLE]
    second, _ = rig.engine.calls[1]
    assert [m.role for m in second] == ["system", "user", "model", "user"]
    assert len(second[1].audio) == 20 * FRAME and len(second[3].audio) == 15 * FRAME
    assert second[2].text == "Hi."
    assert [r["outcome"] for r in rig.records()] == ["ok", "ok"]
    assert "wake" not in rig.records()[1]["ms"] and "speech_start" not in rig.records()[1]["ms"]


def test_history_is_bounded_by_history_turns(tmp_path):
    steps = [*command(10), until(FOLLOW_UP), *speech(10), *QUIET, until(FOLLOW_UP),
             *speech(10), *QUIET, until(IDLE)]
    rig = Rig(tmp_path, steps, [[TextDelta("One.")], [TextDelta("Two.")], [TextDelta("Three.")]], history_turns=1).run()
    third, _ = rig.engine.calls[2]
    assert [m.text for m in third if m.role == "model"] == ["Two."]


def test_no_speech_after_wake_word_plays_a_tone_and_returns_to_idle(tmp_path):
    steps = [WAKE, *[SILENCE] * 60, until(IDLE), ("until", lambda a: not rig.player.speaking, 5)]
    rig = Rig(tmp_path, steps, [])
    rig.run()
    assert rig.assistant.transitions == [IDLE, LISTENING, IDLE]
    assert rig.engine.calls == []
    assert len(rig.player.played) == 2 and rig.tts.said == []
    assert rig.records() == []


def test_follow_up_window_expires_silently(tmp_path):
    rig = Rig(tmp_path, [*command(), until(FOLLOW_UP), until(IDLE)], [[TextDelta("Hello.")]]).run()
    assert rig.assistant.transitions[-2:] == [FOLLOW_UP, IDLE]
    assert len(rig.player.played) == 1  # the reply, no tone


def test_wake_word_while_speaking_interrupts_and_listens(tmp_path):
    rig_holder = {}
    steps = [
        ("do", lambda: rig_holder["rig"].player.hold.set()),
        *command(20),
        until(SPEAKING),
        WAKE,
        ("do", lambda: rig_holder["rig"].player.hold.clear()),
        *speech(10),
        *QUIET,
        until(IDLE),
    ]
    responses = [[TextDelta("A long story. "), TextDelta("It goes on. And on.")], [TextDelta("Stopped.")]]
    rig = Rig(tmp_path, steps, responses)
    rig_holder["rig"] = rig
    rig.run()

    t = rig.assistant.transitions
    assert t[:6] == [IDLE, LISTENING, THINKING, SPEAKING, LISTENING, THINKING]
    assert rig.player.stops >= 1
    assert rig.detector.gates[:2] == [True, False]
    second, _ = rig.engine.calls[1]
    assert [m.role for m in second] == ["system", "user"]  # the interrupted turn is not history
    assert "It goes on." not in rig.tts.said[-1:]
    assert [r["outcome"] for r in rig.records()] == ["cancelled", "ok"]


def test_stop_tool_ends_the_turn_without_follow_up(tmp_path):
    rig = Rig(tmp_path, [*command(), until(IDLE)], [[ToolCall(STOP_TOOL_NAME)]]).run()
    assert rig.assistant.transitions == [IDLE, LISTENING, THINKING, IDLE]
    assert rig.bus.executed == []
    assert rig.player.stops >= 1
    assert rig.records()[0]["outcome"] == "stopped"


def test_bus_failing_mid_turn_is_spoken_and_the_loop_goes_on(tmp_path):
    bus = FakeBus(fail_on=[2])
    responses = [
        [ToolCall("light_turn_on", {"area": "kitchen"}), ToolCall("light_turn_on", {"area": "hall"}), TextDelta("Done.")],
        [ToolCall("light_turn_on", {"area": "hall"})],
    ]
    steps = [*command(), until(IDLE), *command(), until(IDLE)]
    rig = Rig(tmp_path, steps, responses, bus=bus).run()

    assert len(bus.executed) == 3
    assert rig.tts.said[:3] == ["Done.", "The kitchen light is on.", BUS_FAILED]
    assert rig.tts.said[3:] == ["The kitchen light is on."]
    assert [r["outcome"] for r in rig.records()] == ["ok", "ok"]
    assert rig.assistant.transitions.count(SPEAKING) == 2


def test_engine_failure_is_spoken_and_returns_to_idle(tmp_path):
    responses = [[TextDelta("Let me"), RuntimeError("onnxruntime exploded")], [TextDelta("Fine.")]]
    rig = Rig(tmp_path, [*command(), until(IDLE), *command(), until(IDLE)], responses).run()
    assert rig.tts.said == [ENGINE_FAILED, "Fine."]
    assert [r["outcome"] for r in rig.records()] == ["failed", "ok"]
    assert rig.assistant.transitions[:5] == [IDLE, LISTENING, THINKING, SPEAKING, IDLE]


def test_unusable_tool_call_is_not_sent(tmp_path):
    rig = Rig(tmp_path, [*command(), until(IDLE)], [[ToolCall("light_turn_on", raw="{bad", error="invalid JSON")]]).run()
    assert rig.bus.executed == []
    assert rig.tts.said == [NOT_UNDERSTOOD]


def test_muted_ignores_the_wake_word(tmp_path):
    rig = Rig(tmp_path, [("do", lambda: setattr(rig.announcer, "muted", True)), *command(), *QUIET], [])
    rig.run()
    assert rig.assistant.transitions == [IDLE]
    assert rig.engine.calls == []


def test_no_follow_up_when_disabled(tmp_path):
    rig = Rig(tmp_path, [*command(), until(IDLE)], [[TextDelta("Hello.")]], follow_up_s=0.0).run()
    assert rig.assistant.transitions == [IDLE, LISTENING, THINKING, SPEAKING, IDLE]


def test_trigger_listens_without_a_wake_word(tmp_path):
    rig = Rig(tmp_path, [("do", lambda: rig.assistant.trigger()), SILENCE, *speech(10), *QUIET, until(IDLE)],
              [[TextDelta("Yes.")]])
    rig.run()
    assert rig.assistant.transitions[:4] == [IDLE, LISTENING, THINKING, SPEAKING]


def test_audio_ending_mid_turn_finishes_the_turn(tmp_path):
    """``run --wav``: the last file ends while the model still works; the reply is still spoken."""
    rig = Rig(tmp_path, command(), [[TextDelta("Still answered.")]]).run()
    assert rig.tts.said == ["Still answered."]
    assert rig.records()[0]["outcome"] == "ok"


def test_announcer_failure_never_stops_the_loop(tmp_path):
    rig = Rig(tmp_path, [*command(), until(IDLE)], [[TextDelta("Ok.")]])

    def broken(status):
        raise OSError("broker down")

    rig.announcer.set_status = broken
    rig.run()
    assert rig.tts.said == ["Ok."]


def test_bus_without_tools_still_lets_the_turn_run(tmp_path):
    bus = FakeBus()

    def no_tools(hint=""):
        raise ConnectionError("broker down")

    bus.tools = no_tools
    rig = Rig(tmp_path, [*command(), until(IDLE)], [[TextDelta("Hello.")]], bus=bus).run()
    _, tools = rig.engine.calls[0]
    assert [t["function"]["name"] for t in tools] == [STOP_TOOL_NAME]
    assert rig.tts.said == ["Hello."]


def test_slow_command_is_timed_after_generation_ends(tmp_path):
    """PUBACK arrives after the model finished: the record still gets it."""
    import time

    bus = FakeBus()
    slow = bus.execute

    def execute(call):
        time.sleep(0.2)
        return slow(call)

    bus.execute = execute
    rig = Rig(tmp_path, [*command(), until(IDLE)], [[ToolCall("light_turn_on"), TextDelta("On it.")]], bus=bus).run()
    assert "puback" in rig.records()[0]["ms"]
    assert rig.tts.said == ["On it.", "The kitchen light is on."]


def test_a_stage_failing_outside_the_engine_ends_the_turn_not_the_loop(tmp_path):
    rig = Rig(tmp_path, [*command(), until(IDLE), *command(), until(IDLE)], [[TextDelta("Lost.")], [TextDelta("Heard.")]])
    wait = rig.player.wait
    calls = []

    def wait_once_broken(timeout):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("device unplugged")
        return wait(timeout)

    rig.player.wait = wait_once_broken
    rig.run()
    assert [r["outcome"] for r in rig.records()] == ["failed", "ok"]
    first_turn = rig.assistant.transitions[: rig.assistant.transitions.index(LISTENING, 2)]
    assert first_turn[:3] == [IDLE, LISTENING, THINKING] and first_turn[-1] == IDLE  # no follow-up after a failure
    assert rig.tts.said[-1] == "Heard."


def test_main_loop_failure_exits_non_zero(tmp_path):
    from assistant.service.runner import serve

    rig = Rig(tmp_path, [*command()], [])

    def broken(frame):
        raise RuntimeError("wake word model crashed")

    rig.detector.detect = broken
    assert serve(rig.assistant, Notifier(environ={})) == 1


def test_muting_while_listening_stops_listening_and_detects_nothing_until_unmuted(tmp_path):
    rig = Rig(tmp_path, [WAKE, *speech(3), ("do", lambda: setattr(rig.announcer, "muted", True)), *speech(20), *QUIET,
                         WAKE, *QUIET], [])
    rig.run()
    assert rig.assistant.transitions == [IDLE, LISTENING, IDLE]
    assert rig.engine.calls == []


def test_turn_records_which_tier_answered_and_the_engine_and_bus_moments(tmp_path):
    from assistant.config.schema import TiersConfig
    from assistant.tiers import build_router

    engine = ScriptedEngine([[ToolCall("light_turn_on", {"device": "kitchen"}), TextDelta("Done.")]])
    rig = Rig(tmp_path, [*command(), until(IDLE)], [])
    rig.assistant.stages.engine = build_router(engine, TiersConfig(privacy="off"))
    rig.assistant.stages.timed = (engine,)
    rig.run()
    (record,) = rig.records()
    assert record["tier"] == "local"
    assert {"features", "prefill", "first_token", "tool_call", "first_audio"} <= set(record["ms"])
    assert engine.calls, "the router passed the turn to the local engine"


def test_with_stream_audio_the_turn_takes_the_speech_while_it_is_spoken(tmp_path):
    steps = [WAKE, *speech(5), ("do", lambda: rig.engine.reading.wait(5)), *speech(15), *QUIET, until(FOLLOW_UP),
             *speech(10), *QUIET, until(IDLE)]
    rig = Rig(tmp_path, steps, [[TextDelta("Done.")], [TextDelta("Sure.")]], live=True)
    rig.run()

    assert rig.assistant.transitions == [IDLE, LISTENING, THINKING, SPEAKING, FOLLOW_UP, THINKING, SPEAKING, FOLLOW_UP, IDLE]
    assert rig.engine.open_blocks[0] >= 1 and rig.engine.cancelled == [False, False]  # read before the speech ended
    messages, _ = rig.engine.calls[0]
    live = messages[-1].live
    assert live is not None and live.closed and messages[-1].audio is None
    # the speech from its first frame to its end; of the quiet frames before the end decision, only those the
    # engine had already taken (the rest is dropped at the close: nothing to encode after the end of speech)
    assert 20 * FRAME <= len(live.samples()) <= 25 * FRAME
    assert rig.tts.said == ["Done.", "Sure."]
    first, _ = rig.records()
    assert first["outcome"] == "ok" and {"speech_start", "speech_end", "first_audio"} <= set(first["ms"])
    second, _ = rig.engine.calls[1]
    assert [m.role for m in second] == ["system", "user", "model", "user"]
    assert len(second[1].audio) == len(live.samples()) and second[1].live is None  # the conversation keeps plain audio
    assert second[3].live is not None and 10 * FRAME <= len(second[3].live.samples()) <= 15 * FRAME


def test_a_live_turn_whose_speech_never_ends_is_cancelled(tmp_path):
    steps = [WAKE, *speech(5), ("do", lambda: rig.engine.reading.wait(5)), *speech(5)]  # the audio ends mid-speech
    rig = Rig(tmp_path, steps, [[TextDelta("Never said.")]], live=True)
    rig.run()

    assert rig.engine.cancelled == [True] and rig.tts.said == []
    assert THINKING not in rig.assistant.transitions


def test_the_endpointer_hands_over_from_a_spoken_wake_word_only(tmp_path):
    """After a wake word (and at barge-in) the command is the speech after its phrase; follow-up and trigger have no phrase."""
    holder = {}
    steps = [("do", lambda: holder["rig"].player.hold.set()), *command(20), until(SPEAKING), WAKE,
             ("do", lambda: holder["rig"].player.hold.clear()), *speech(10), *QUIET, until(FOLLOW_UP),
             *speech(10), *QUIET, until(FOLLOW_UP), until(IDLE), ("do", lambda: holder["rig"].assistant.trigger()), SILENCE,
             *speech(10), *QUIET, until(IDLE)]
    rig = Rig(tmp_path, steps, [[TextDelta("A long story. "), TextDelta("It goes on.")], [TextDelta("Stopped.")],
                                [TextDelta("Sure.")], [TextDelta("Yes.")]])
    holder["rig"] = rig
    rig.run()
    assert rig.endpointer.after_wake[:4] == [True, True, False, False]
