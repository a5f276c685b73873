"""The loop during wake arbitration: it keeps buffering the command while it claims, answers when it won
(nothing of the command lost), and goes back to idle without a sound when another assistant answers."""

from __future__ import annotations

import numpy as np

from assistant.protocols import TextDelta
from assistant.service.arbitration import LevelMeter, WakeEvidence
from assistant.service.loop import CLAIMING, FOLLOW_UP, IDLE, LISTENING, SPEAKING, THINKING

from .doubles import FRAME, SILENCE, WAKE, speech
from .test_loop import QUIET, Rig, until


class FakeRuling:
    """FakeRuling: undecided for ``polls`` polls, then ``answer``."""

    def __init__(self, answer: bool, polls: int) -> None:
        self.answer, self.polls = answer, polls

    def outcome(self, now: float) -> bool | None:
        self.polls -= 1
        return self.answer if self.polls < 0 else None


class FakeArbiter:
    """FakeArbiter (the MQTT one is tested on a real broker in tests/home/test_arbiter.py): scripted rulings."""

    def __init__(self, *answers: bool, polls: int = 10) -> None:
        self.answers = list(answers)
        self.polls = polls
        self.claims: list[tuple[WakeEvidence, bool]] = []

    def claim(self, evidence: WakeEvidence, in_conversation: bool = False) -> FakeRuling:
        self.claims.append((evidence, in_conversation))
        if in_conversation:
            return FakeRuling(True, 0)
        if not self.answers:
            raise RuntimeError("no ruling scripted")
        return FakeRuling(self.answers.pop(0), self.polls)


def rig_with(tmp_path, arbiter, steps, responses, **kw) -> Rig:
    rig = Rig(tmp_path, steps, responses, **kw)
    rig.assistant.arbiter = arbiter
    return rig


def test_won_claim_keeps_every_frame_spoken_during_the_wait(tmp_path):
    arbiter = FakeArbiter(True, polls=15)  # the user speaks straight after the wake word, during the claim
    rig = rig_with(tmp_path, arbiter, [WAKE, *speech(20), *QUIET, until(IDLE)], [[TextDelta("Hi.")]], follow_up_s=0.0).run()
    assert rig.assistant.transitions == [IDLE, CLAIMING, LISTENING, THINKING, SPEAKING, IDLE]
    assert rig.announcer.statuses[:3] == ["idle", "listening", "thinking"]  # no status while claiming
    messages, _ = rig.engine.calls[0]
    assert len(messages[-1].audio) == 20 * FRAME
    (record,) = rig.records()
    assert "arbitration" in record["ms"] and record["ms"]["arbitration"] >= 0


def test_won_claim_with_live_audio_streams_the_whole_command(tmp_path):
    arbiter = FakeArbiter(True, polls=8)
    rig = rig_with(tmp_path, arbiter, [WAKE, *speech(20), *QUIET, until(IDLE)], [[TextDelta("Hi.")]],
                   live=True, follow_up_s=0.0).run()
    messages, _ = rig.engine.calls[0]
    # as without arbitration: the end silence the engine has not read yet is trimmed at the close
    assert messages[-1].live is not None and 20 * FRAME <= len(messages[-1].live.samples()) <= 25 * FRAME


def test_a_command_finished_before_the_ruling_is_still_answered_whole(tmp_path):
    arbiter = FakeArbiter(True, polls=40)
    rig = rig_with(tmp_path, arbiter, [WAKE, *speech(20), *QUIET, *[SILENCE] * 20, until(IDLE)], [[TextDelta("Hi.")]],
                   follow_up_s=0.0).run()
    messages, _ = rig.engine.calls[0]
    assert len(messages[-1].audio) == 20 * FRAME


def test_lost_claim_returns_to_idle_silently(tmp_path):
    arbiter = FakeArbiter(False, polls=5)
    rig = rig_with(tmp_path, arbiter, [SILENCE, WAKE, *speech(20), *QUIET, *[SILENCE] * 10], []).run()
    assert rig.assistant.transitions == [IDLE, CLAIMING, IDLE]
    assert rig.engine.calls == [] and rig.player.played == [] and rig.records() == []
    assert set(rig.announcer.statuses) == {"idle"}
    (evidence, in_conversation), = arbiter.claims
    assert not in_conversation
    assert abs(evidence.level_db - 20 * np.log10(1111 / 32768)) < 0.1  # the loudest frames: the wake marker


def test_a_wake_word_during_the_follow_up_keeps_the_conversation_here(tmp_path):
    arbiter = FakeArbiter(True, polls=0)
    steps = [WAKE, *speech(10), *QUIET, until(FOLLOW_UP), WAKE, *speech(10), *QUIET, until(IDLE)]
    rig = rig_with(tmp_path, arbiter, steps, [[TextDelta("Hi.")], [TextDelta("Yes.")]]).run()
    assert [conv for _, conv in arbiter.claims] == [False, True]
    assert len(rig.engine.calls) == 2 and FOLLOW_UP in rig.assistant.transitions


def test_a_failing_arbiter_means_answering_alone(tmp_path):
    rig = rig_with(tmp_path, FakeArbiter(), [WAKE, *speech(10), *QUIET, until(IDLE)], [[TextDelta("Hi.")]],
                   follow_up_s=0.0).run()
    assert rig.assistant.transitions[:3] == [IDLE, LISTENING, THINKING]


def test_the_level_meter_hears_the_louder_copy_as_louder():
    rng = np.random.default_rng(1)
    voice = rng.integers(-8000, 8000, 16000).astype(np.int16)
    levels = []
    for gain in (1.0, 0.5, 0.25):
        meter = LevelMeter()
        for i in range(0, len(voice), FRAME):
            meter.feed((voice[i:i + FRAME] * gain).astype(np.int16))
        levels.append(meter.level_db())
    assert levels[0] > levels[1] > levels[2]
    assert abs((levels[0] - levels[1]) - 6.02) < 0.1
    assert LevelMeter().level_db() == -100.0
    assert LISTENING != CLAIMING
