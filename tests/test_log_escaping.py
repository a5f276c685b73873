"""Log lines escape control characters: a device name with a newline cannot forge a separate log line."""

from __future__ import annotations

import json
import logging

from assistant.home.registry import Registry
from assistant.logs import escape_controls, setup_logging

FORGED = "lamp\nERROR assistant.service: forged line\r\x1b[2J\u2028more"


def test_escapes() -> None:
    assert escape_controls("a\nb\rc\td\x1be\x85f\u2028g") == "a\\nb\\rc\\td\\x1be\\x85f\\u2028g"
    assert escape_controls("plain text, ünïcode") == "plain text, ünïcode"


def test_a_discovered_name_with_a_newline_stays_on_its_warning_line(capsys) -> None:
    setup_logging(0, {})
    payload = json.dumps({"name": FORGED, "command_topic": "l/set", "command_template": "{{ states('x') }}"})
    Registry().handle("homeassistant/light/lamp/config", payload)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("WARNING assistant.home: ")
    assert "forged line" in lines[0] and "\x1b" not in err and "\u2028" not in err


def test_journal_lines_and_tracebacks_cannot_start_a_record(capsys) -> None:
    setup_logging(0, {"JOURNAL_STREAM": "8:1"})
    try:
        raise KeyError(FORGED)
    except KeyError:
        logging.getLogger("assistant.home").exception("error handling MQTT message on %s", FORGED)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("<3>assistant.home: error handling MQTT message on lamp\\nERROR")
    assert all(line.startswith("  ") for line in lines[1:]) and len(lines) > 2
