"""sd_notify over a real datagram socket; the watchdog pings only while audio flows."""

from __future__ import annotations

import os
import threading

import pytest

from assistant.config import Config
from assistant.config.schema import ServiceConfig
from assistant.service.sdnotify import Notifier, WatchdogPinger
from assistant.service.wiring import Parts, build_assistant

from .doubles import (
    EnergyEndpointer,
    FakeBus,
    FakePlayer,
    FakeTts,
    MarkerDetector,
    RecordingAnnouncer,
    ScriptedEngine,
    ScriptedSource,
)
from .notify_socket import NotifySocket


@pytest.fixture(params=[False, True], ids=["path", "abstract"])
def notify(request, tmp_path):
    sock = NotifySocket(tmp_path, abstract=request.param)
    yield sock
    sock.close()


def test_messages_arrive_as_datagrams(notify):
    n = Notifier({"NOTIFY_SOCKET": notify.env_value})
    assert n.enabled
    assert n.status("Loading the model\nsecond line ignored")
    assert n.extend_timeout(30)
    assert n.ready("Listening")
    assert n.stopping()
    n.close()
    assert notify.receive(0.2) == [
        "STATUS=Loading the model",
        "EXTEND_TIMEOUT_USEC=30000000",
        "READY=1\nSTATUS=Listening",
        "STOPPING=1",
    ]


def test_without_notify_socket_nothing_is_sent():
    n = Notifier({})
    assert not n.enabled
    assert n.ready() is False
    assert WatchdogPinger(n).interval is None


def test_missing_socket_is_logged_not_raised(tmp_path, caplog):
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.ready() is False
    assert n.watchdog() is False
    assert sum("cannot notify systemd" in r.message for r in caplog.records) == 1


def test_watchdog_interval_respects_pid(notify):
    env = {"NOTIFY_SOCKET": notify.env_value, "WATCHDOG_USEC": "4000000"}
    assert Notifier(env).watchdog_s == 4.0
    assert Notifier({**env, "WATCHDOG_PID": str(os.getpid())}).watchdog_s == 4.0
    assert Notifier({**env, "WATCHDOG_PID": "1"}).watchdog_s is None  # meant for another process
    assert Notifier({**env, "WATCHDOG_USEC": "0"}).watchdog_s is None


def test_pinger_pings_at_half_the_period_on_ticks_only(notify):
    pinger = WatchdogPinger(Notifier({"NOTIFY_SOCKET": notify.env_value, "WATCHDOG_USEC": "2000000"}))
    for t in (10.0, 10.5, 10.99, 11.0, 11.2, 12.5):
        pinger.tick(t)
    assert pinger.pings == 3  # at 10.0, 11.0 and 12.5
    assert notify.receive(0.2) == ["WATCHDOG=1"] * 3


def test_loop_pings_while_audio_flows_and_stops_when_capture_stalls(tmp_path, notify):
    """The main loop pings per frame; a hung capture means no frames, so no pings, so systemd restarts us."""
    stalled = threading.Event()
    source = ScriptedSource([("pace", 40), ("do", stalled.set), ("stall",)])
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(), ScriptedEngine([]), FakeBus(), FakeTts(), FakePlayer(),
                  RecordingAnnouncer())
    notifier = Notifier({"NOTIFY_SOCKET": notify.env_value, "WATCHDOG_USEC": "100000"})
    assistant = build_assistant(Config(service=ServiceConfig(state_dir=str(tmp_path))), parts, notifier=notifier)
    source.assistant = assistant
    thread = threading.Thread(target=assistant.run)
    thread.start()
    try:
        assert stalled.wait(10)
        before = notify.receive(0.05)  # what queued up while audio flowed
        after = notify.receive(0.5)  # five watchdog periods with no audio
    finally:
        assistant.stop()
        thread.join(5)
    assert not thread.is_alive()
    assert before[0] == "READY=1\nSTATUS=Listening for the wake word"  # READY once audio arrived
    assert before.count("WATCHDOG=1") >= 2
    assert "WATCHDOG=1" not in after


def test_stuck_engine_abandons_the_turn_and_withholds_the_watchdog(tmp_path, notify):
    """Audio still flows, but a model step that never returns must not be hidden from systemd."""
    import time

    from assistant.protocols import TextDelta
    from assistant.service.loop import IDLE, THINKING

    from .doubles import QUIET_FRAMES, WAKE, speech

    marks: dict[str, int] = {}
    steps = [("pace", 20), WAKE, *speech(20), *QUIET_FRAMES,
             ("until", lambda a: a.state == IDLE, 10), ("do", lambda: marks.setdefault("pings", assistant.pinger.pings)),
             ("pace", 60)]
    source = ScriptedSource(steps)
    engine = ScriptedEngine([[lambda: time.sleep(30), TextDelta("Too late.")]])
    parts = Parts(source, MarkerDetector(), EnergyEndpointer(), engine, FakeBus(), FakeTts(), FakePlayer(),
                  RecordingAnnouncer())
    notifier = Notifier({"NOTIFY_SOCKET": notify.env_value, "WATCHDOG_USEC": "100000"})
    config = Config(service=ServiceConfig(state_dir=str(tmp_path), turn_timeout_s=0.3))
    assistant = build_assistant(config, parts, notifier=notifier)
    source.assistant = assistant
    assistant.run()
    assert assistant.transitions[-2:] == [THINKING, IDLE]
    received = notify.receive(0.1)
    assert received.count("WATCHDOG=1") == assistant.pinger.pings  # every ping went out on the socket
    assert marks["pings"] >= 2  # while listening and for the first 0.3 s of the turn
    assert assistant.pinger.pings == marks["pings"]  # 0.6 s of audio after the turn was abandoned: no ping


def test_a_full_notify_queue_drops_messages_instead_of_blocking(notify):
    """Nobody reads the socket: sends fail (and are counted as not sent) but never stall the caller."""
    n = Notifier({"NOTIFY_SOCKET": notify.env_value})
    results: list[bool] = []
    sender = threading.Thread(target=lambda: results.extend(n.watchdog() for _ in range(5000)), daemon=True)
    sender.start()
    sender.join(120)
    assert not sender.is_alive(), "a send blocked on the full queue"
    assert len(results) == 5000 and not all(results)
    assert notify.receive(0.2).count("WATCHDOG=1") == sum(results)
    n.close()
