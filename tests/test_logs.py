"""Log format: plain on a terminal, with syslog priority prefixes under journald."""

from __future__ import annotations

import logging

from assistant.logs import RateLimitedLog, setup_logging


def _emit(capsys, environ, verbosity=0):
    setup_logging(verbosity, environ)
    logging.getLogger("engine").warning("slow %s", "step")
    logging.getLogger("engine").info("loaded")
    logging.getLogger("engine").error("broken")
    return capsys.readouterr().err.splitlines()


def test_plain_lines_on_stderr(capsys):
    assert _emit(capsys, {}) == ["WARNING engine: slow step", "ERROR engine: broken"]


def test_journal_priority_prefixes(capsys):
    lines = _emit(capsys, {"JOURNAL_STREAM": "8:1234"}, verbosity=1)
    assert lines == ["<4>engine: slow step", "<6>engine: loaded", "<3>engine: broken"]


def test_rate_limited_log_counts_suppressed(caplog):
    limited = RateLimitedLog(logging.getLogger("audio"), interval_s=3600)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            limited.warning("overflow")
    assert [r.getMessage() for r in caplog.records] == ["overflow"]
    limited._last = float("-inf")
    with caplog.at_level(logging.WARNING):
        limited.warning("overflow")
    assert caplog.records[-1].getMessage() == "overflow (4 similar messages suppressed)"
