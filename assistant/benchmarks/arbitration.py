"""``assistant bench arbitration``: the latency wake arbitration adds, and whether each round had one winner.

Several arbiters (``assistant.home.arbiter``, each with its own MQTT connection, as separate Pis would
have) claim the same wake word at random loudness, a few milliseconds apart, on the configured broker
(under a private topic, so a running house is not disturbed) or on a private Mosquitto
(``--spawn-broker``). Per round: how long each waited from its claim to its ruling, whether exactly
one answered and whether it was the loudest. Alone (no other assistant online) the ruling is
immediate; the figure shows it. The service polls the ruling once per audio frame (10 ms), which
may add up to one frame to the figures measured here with a 1 ms poll.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.benchmarks.report import Report, median, percentile
from assistant.errors import AssistantError

GAP_S = 1.5  # between rounds: more than a round's span (rounds never merge), within the per-assistant claim limit
POLL_S = 0.001


class UsageError(AssistantError):
    exit_code = 2


@dataclasses.dataclass(frozen=True)
class Evidence:
    level_db: float
    wake_score: float = 0.9


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("arbitration", help="latency added by wake arbitration between several assistants")
    parser.add_argument("--assistants", type=int, default=3, metavar="N", help="assistants claiming each wake word (2-8)")
    parser.add_argument("--absent", type=int, default=0, metavar="N",
                        help="more assistants online that do not hear the wake word (the others wait the whole window)")
    parser.add_argument("--rounds", type=int, default=10, metavar="N", help="wake words to arbitrate (default 10)")
    parser.add_argument("--window-ms", type=int, metavar="MS", help="claim window (default: mqtt.arbitration_window_ms)")
    parser.add_argument("--spawn-broker", action="store_true",
                        help="run a private Mosquitto on a free loopback port instead of the configured broker")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: Any) -> int:
    from assistant.config import load_config

    if not 2 <= args.assistants <= 8 or not 1 <= args.rounds <= 1000 or not 0 <= args.absent <= 8:
        raise UsageError("--assistants must be 2 to 8, --absent 0 to 8 and --rounds 1 to 1000")
    cfg = load_config(getattr(args, "config", None)).mqtt
    window = cfg.arbitration_window_ms if args.window_ms is None else args.window_ms
    topic = f"assistant-bench-{os.getpid()}"
    cfg = dataclasses.replace(cfg, enabled=True, announce=False, arbitrate=True, arbitration_window_ms=window,
                              announce_topic=topic, wake_level_offset_db=0.0, connect_timeout_s=5.0,
                              discovery_prefix=f"{topic}/none", z2m_base_topic=f"{topic}/none",
                              tasmota_discovery_prefix=f"{topic}/none")
    with _broker(cfg, args.spawn_broker) as cfg:
        report = measure(cfg, args.assistants, args.rounds, absent=args.absent)
    return report.emit(args.json)


def measure(cfg: Any, assistants: int, rounds: int, seed: int = 0, absent: int = 0) -> Report:
    from assistant.home import open_home

    rng = random.Random(seed)
    report = Report("wake arbitration")
    alone = f"{cfg.announce_topic}-solo"
    solo = open_home(dataclasses.replace(cfg, client_id=alone, announce_topic=alone), require_broker=True)
    everyone = [open_home(dataclasses.replace(cfg, client_id=f"{cfg.announce_topic}-{i}"), require_broker=True)
                for i in range(assistants + absent)]
    homes = everyone[:assistants]  # the ones that hear the wake word
    try:
        _wait(lambda: all(len(h.presence.peers_online()) == len(everyone) - 1 for h in everyone), 10.0, "the assistants")
        solo_ms = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            solo.arbiter.claim(Evidence(-20.0)).outcome(time.monotonic())  # type: ignore[union-attr]
            solo_ms.append((time.perf_counter() - t0) * 1000)
        winner_ms: list[float] = []
        loser_ms: list[float] = []
        echo_ms: list[float] = []
        one_winner = loudest_won = 0
        for _ in range(rounds):
            time.sleep(GAP_S)
            levels = [round(rng.uniform(-40.0, -10.0), 2) for _ in homes]
            claims = []
            for home, level in zip(homes, levels, strict=True):
                claims.append((home, home.arbiter.claim(Evidence(level)), time.monotonic()))  # type: ignore[union-attr]
                time.sleep(rng.uniform(0.0, 0.02))  # detections a few ms apart, as in different rooms
            outcomes = []
            for home, ruling, at in claims:
                while (won := ruling.outcome(time.monotonic())) is None:
                    time.sleep(POLL_S)
                (winner_ms if won else loser_ms).append((time.monotonic() - at) * 1000)
                claimed = getattr(ruling, "claim", None)
                arrival = home.arbiter.heard_at(claimed.nonce) if claimed else None  # type: ignore[union-attr]
                if arrival is not None:
                    echo_ms.append((arrival - at) * 1000)
                outcomes.append(won)
            one_winner += outcomes.count(True) == 1
            loudest_won += outcomes[levels.index(max(levels))] is True
    finally:
        for home in [solo, *everyone]:
            home.close()
    report.add("window_ms", cfg.arbitration_window_ms, "ms", "claim window (mqtt.arbitration_window_ms)")
    report.add("alone_added_ms", round(median(solo_ms), 3), "ms", "added alone (median)")
    report.add("winner_added_ms_median", round(median(winner_ms), 1), "ms", "added for the answering one (median)")
    report.add("winner_added_ms_p90", round(percentile(winner_ms, 90), 1), "ms", "added for the answering one (p90)")
    report.add("loser_decided_ms_median", round(median(loser_ms), 1), "ms", "until the others know to stay quiet (median)")
    report.add("claim_echo_ms_median", round(median(echo_ms), 2), "ms", "claim to its echo from the broker (median)")
    report.add("rounds_with_one_answer", f"{one_winner} of {rounds}", "", "rounds answered exactly once",
               target="all", ok=one_winner == rounds)
    report.add("rounds_loudest_answered", f"{loudest_won} of {rounds}", "", "rounds answered by the loudest",
               target="all", ok=loudest_won == rounds)
    report.notes.append(f"{assistants} assistants hear each wake word, {absent} more online do not; each with its own "
                        f"MQTT connection, on {cfg.host}:{cfg.port}; "
                        "the service polls once per 10 ms audio frame (up to one frame more)")
    return report


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssistantError(f"{what} did not see each other on the broker within {timeout:g} s")
        time.sleep(0.02)


@contextmanager
def _broker(cfg: Any, spawn: bool) -> Iterator[Any]:
    """``cfg`` as it is, or pointing at a private Mosquitto for the duration."""
    if not spawn:
        yield cfg
        return
    if shutil.which("mosquitto") is None:
        raise AssistantError("--spawn-broker needs mosquitto (apt install mosquitto)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(f"{user}listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(lambda: _listening(port), 5.0, "mosquitto and the benchmark")
            yield dataclasses.replace(cfg, host="127.0.0.1", port=port, username="", password="", tls=False)
        finally:
            proc.terminate()
            proc.wait(5)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False
