"""Announcements: payloads, room targets, limits, and the loop speaking them only when it is free."""

from __future__ import annotations

import json
import threading

import pytest

from assistant.config import Config
from assistant.config.schema import AnnounceConfig, ServiceConfig
from assistant.protocols import TextDelta
from assistant.service.announcements import Announcement, AnnouncementQueue, RateLimit, Refused, parse, targets
from assistant.service.loop import FOLLOW_UP, IDLE, LISTENING, SPEAKING, THINKING
from assistant.service.sdnotify import Notifier
from assistant.service.wiring import Parts, build_assistant

from .doubles import (
    SILENCE,
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

CFG = AnnounceConfig()
QUIET = [SILENCE] * 6


class Clock:
    """An injectable clock: ``t`` is advanced by the test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_plain_text_is_for_everyone_and_json_carries_chime_language_and_title():
    assert parse(b"  Dinner   is ready ", CFG, house=True, area="kitchen") == Announcement("Dinner is ready", True, "")
    a = parse(json.dumps({"message": "ist fertig", "title": "Essen", "chime": False, "language": "de"}).encode(), CFG)
    assert a == Announcement("Essen. ist fertig", False, "de")


@pytest.mark.parametrize(("data", "area", "meant"), [
    ({"text": "x"}, "kitchen", True),  # no target: everyone
    ({"text": "x", "area": "Kitchen"}, "kitchen", True),  # case and spacing do not matter
    ({"text": "x", "area": "living room"}, "Living Room", True),
    ({"text": "x", "area": "hall"}, "kitchen", False),
    ({"text": "x", "areas": ["hall", "kitchen"]}, "kitchen", True),
    ({"text": "x", "areas": ["hall", "bedroom"]}, "kitchen", False),
    ({"text": "x", "areas": "all"}, "kitchen", True),
    ({"text": "x", "area": "all"}, "", True),
    ({"text": "x", "all": True, "area": "hall"}, "kitchen", True),
    ({"text": "x", "area": "hall"}, "", False),  # an assistant without a room only hears the whole house
    ({"text": "x", "areas": []}, "kitchen", False),  # an empty target list is nobody
])
def test_room_targets_are_compared_with_the_assistants_area(data, area, meant):
    assert targets(data, area) is meant
    found = parse(json.dumps(data).encode(), CFG, house=True, area=area)
    assert (found is not None) is meant


def test_the_assistants_own_topic_speaks_whatever_room_is_named():
    assert parse(json.dumps({"text": "x", "area": "hall"}).encode(), CFG, house=False, area="kitchen") is not None


@pytest.mark.parametrize(("payload", "why"), [
    (b"", "no text"),
    (b"{not json", "invalid JSON"),
    (b"[1, 2]", "invalid JSON"),  # not an object (and not text either: it starts like JSON only with '{')
    (json.dumps({"text": 5}).encode(), "text must be a string"),
    (json.dumps({"text": "x", "chime": "yes"}).encode(), "chime must be true or false"),
    (json.dumps({"text": "x", "language": "xx"}).encode(), "unknown language"),
    (b"x" * 401, "longer than 400 characters"),
    (b"x" * 20000, "payload larger than"),
])
def test_bad_payloads_are_refused_with_a_reason(payload, why):
    if payload == b"[1, 2]":
        assert parse(payload, CFG) == Announcement("[1, 2]", True, "")  # plain text that happens to look like a list
        return
    with pytest.raises(Refused, match=why):
        parse(payload, CFG)


def test_rate_limit_allows_a_burst_then_the_rate_on_an_injected_clock():
    clock = Clock()
    limit = RateLimit(per_minute=6, burst=3, clock=clock)
    assert [limit.take() for _ in range(4)] == [True, True, True, False]
    clock.t += 9.0  # 6 a minute: one every 10 s
    assert not limit.take()
    clock.t += 1.0
    assert limit.take() and not limit.take()
    clock.t += 3600
    assert [limit.take() for _ in range(4)] == [True, True, True, False]  # never more than the burst


def test_a_flood_is_refused_and_reported_but_accepted_ones_are_all_kept():
    clock, reports = Clock(), []
    queue = AnnouncementQueue(AnnounceConfig(per_minute=60, burst=2, max_queued=3), FakeTts(), clock=clock,
                              report=lambda status, text, reason: reports.append((status, text, reason)))
    assert [queue.receive(f"message {i}".encode()) for i in range(3)][:2] == ["queued", "queued"]
    assert reports[2][0] == "refused" and "a minute" in reports[2][2]
    clock.t += 10
    assert queue.receive(b"message 3") == "queued"
    assert queue.receive(b"message 4").startswith("refused: 3 announcements are already waiting")
    assert queue.receive(b'{"text": "elsewhere", "area": "hall"}', house=True) == "ignored"
    while (job := queue.next_job()) is not None:
        list(job)
    assert queue.spoken == ["message 0", "message 1", "message 3"]
    assert [r[0] for r in reports].count("spoken") == 3


def _assistant(tmp_path, steps, responses, queue):
    config = Config(service=ServiceConfig(state_dir=str(tmp_path), follow_up_s=0.0))
    source, player, tts = ScriptedSource(steps), FakePlayer(), FakeTts()
    queue.tts = tts
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(), ScriptedEngine(responses), FakeBus(), tts, player,
                  RecordingAnnouncer(), interjections=queue)
    assistant = build_assistant(config, parts, notifier=Notifier(environ={}))
    source.assistant = assistant
    return assistant, tts, player


def test_an_announcement_during_a_turn_waits_for_the_turn_then_is_spoken_with_its_chime(tmp_path):
    queue = AnnouncementQueue(CFG, FakeTts())
    arrived = threading.Event()

    def announce_now():  # published by the house while the model is still answering
        queue.receive(b"The washing machine has finished.")
        arrived.set()

    response = [TextDelta("Here is "), announce_now, TextDelta("your answer.")]
    steps = [SILENCE, WAKE, *speech(20), *QUIET, ("until", lambda a: arrived.is_set() and a.state == IDLE
                                                   and not queue.pending() and not a.stages.player.speaking, 10)]
    assistant, tts, player = _assistant(tmp_path, steps, [response], queue)
    assistant.run()
    assert tts.said == ["Here is your answer.", "The washing machine has finished."]
    assert assistant.transitions == [IDLE, LISTENING, THINKING, SPEAKING, IDLE, SPEAKING, IDLE]
    chime = [c for c in player.played if len(c.samples) > 1000 and c.samples.max() > 5000]
    assert len(chime) == 2, "two chime notes before the announcement"


def test_announcements_queue_behind_each_other_and_play_in_order_when_idle(tmp_path):
    queue = AnnouncementQueue(AnnounceConfig(chime=False), FakeTts())
    for text in ("First.", "Second.", "Third."):
        queue.receive(text.encode())
    steps = [("until", lambda a: not queue.pending() and a.state == IDLE and not a.stages.player.speaking, 10)]
    assistant, tts, _ = _assistant(tmp_path, steps, [], queue)
    assistant.run()
    assert tts.said == ["First.", "Second.", "Third."]
    assert assistant.transitions == [IDLE, SPEAKING, IDLE, SPEAKING, IDLE, SPEAKING, IDLE]


def test_the_wake_word_interrupts_an_announcement_and_starts_listening(tmp_path):
    queue = AnnouncementQueue(CFG, FakeTts())
    queue.receive(b"A long announcement that the user interrupts.")
    player_hold = threading.Event()
    steps = [("do", player_hold.set), ("until", lambda a: a.state == SPEAKING, 5), SILENCE, WAKE,
             ("until", lambda a: a.state in (LISTENING, FOLLOW_UP), 5)]
    assistant, _, player = _assistant(tmp_path, steps, [], queue)
    player.hold.set()
    assistant.run()
    assert SPEAKING in assistant.transitions and assistant.transitions[-1] in (LISTENING, IDLE)
    assert LISTENING in assistant.transitions[assistant.transitions.index(SPEAKING):]
    assert player.stops >= 1


def test_at_the_end_of_the_audio_queued_announcements_are_still_spoken(tmp_path):
    queue = AnnouncementQueue(CFG, FakeTts())
    steps = [SILENCE, WAKE, *speech(10), *QUIET]  # the source ends while the turn runs; the announcement waits
    response = [lambda: queue.receive(b"Spoken before the run ends."), TextDelta("Okay.")]
    assistant, tts, _ = _assistant(tmp_path, steps, [response], queue)
    assistant.run()
    assert tts.said[-1] == "Spoken before the run ends." and not queue.pending()
    assert THINKING in assistant.transitions


def test_an_announcement_waiting_when_the_wake_word_comes_lets_the_user_speak_first(tmp_path):
    queue = AnnouncementQueue(CFG, FakeTts())
    queue.receive(b"Spoken after the conversation.")
    steps = [WAKE, *speech(10), *QUIET, ("until", lambda a: not queue.pending() and a.state == IDLE
                                         and not a.stages.player.speaking, 10)]
    assistant, tts, _ = _assistant(tmp_path, steps, [[TextDelta("Okay.")]], queue)
    assistant.run()
    assert tts.said == ["Okay.", "Spoken after the conversation."]
    assert assistant.transitions == [IDLE, LISTENING, THINKING, SPEAKING, IDLE, SPEAKING, IDLE]


def test_muted_the_assistant_still_speaks_announcements(tmp_path):
    queue = AnnouncementQueue(AnnounceConfig(chime=False), FakeTts())
    queue.receive(b"Heard even when the microphone is muted.")
    steps = [("until", lambda a: not queue.pending() and a.state == IDLE and not a.stages.player.speaking, 10), WAKE,
             *speech(10), *QUIET]
    assistant, tts, _ = _assistant(tmp_path, steps, [], queue)
    assistant.announcer.muted = True
    assistant.run()
    assert tts.said == ["Heard even when the microphone is muted."]
    assert LISTENING not in assistant.transitions  # muted: the wake word is not listened for
