"""``assistant timers`` and the doctor's clock checks."""

from __future__ import annotations

import json

import pytest

from assistant.clock.sync import clock_check, clock_synchronized, zone_check
from assistant.commands.timers import UsageError, parse_duration
from assistant.config import Config
from assistant.config.schema import TimersConfig

from ..conftest import run_cli


def test_durations():
    assert parse_duration("8") == 480 and parse_duration("90s") == 90 and parse_duration("1h30m") == 5400
    for bad in ("", "x", "8 minutes", "1m1h"):
        with pytest.raises(UsageError):
            parse_duration(bad)


def test_the_command_line_lists_adds_and_cancels(tmp_path):
    env = {"ASSISTANT_SERVICE__STATE_DIR": str(tmp_path)}
    assert run_cli("timers", env=env).stdout.strip() == "No timers or alarms."
    assert run_cli("timers", "add", "8m", "--name", "Pasta", env=env).stdout.strip() == "Pasta timer set for 8 minutes."
    listed = run_cli("timers", "list", "--json", env=env)
    (timer,) = json.loads(listed.stdout)["timers"]
    assert timer["name"] == "pasta" and 470 <= timer["remaining_s"] <= 480
    missing = run_cli("timers", "cancel", "eggs", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "assistant: error: there is no timer called 'eggs' (see 'assistant timers')"
    assert run_cli("timers", "cancel", "07:30", env=env).returncode == 1
    bad = run_cli("timers", "add", "soon", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert run_cli("timers", "cancel", "all", env=env).stdout.strip() == "All timers cancelled."
    assert json.loads(run_cli("timers", "--json", env=env).stdout) == {"timers": [], "alarms": []}


def test_clock_synchronisation_is_read_from_timesyncd_then_the_kernel(tmp_path):
    flag = tmp_path / "synchronized"
    assert clock_synchronized(flag, kernel=lambda: False) is False
    flag.touch()
    assert clock_synchronized(flag, kernel=lambda: False) is True
    assert clock_synchronized(tmp_path / "none", kernel=lambda: None) is None


def test_doctor_clock_and_zone_checks():
    config = Config()
    assert clock_check(config, synced=lambda: True)[0] == "ok"
    status, detail, fix = clock_check(config, synced=lambda: False)
    assert status == "warn" and "alarms are refused" in detail and "timedatectl set-ntp true" in fix
    assert clock_check(config, synced=lambda: None)[0] == "warn"
    india = Config(timers=TimersConfig(time_zone="Asia/Kolkata"))  # no summer time: the same offset all year
    assert zone_check(india)[:2] == ("ok", "Asia/Kolkata (UTC+0530, timers.time_zone)")
    status, detail, fix = zone_check(Config(timers=TimersConfig(time_zone="Mars/Olympus")))
    assert status == "fail" and "not a known time zone" in detail


def test_doctor_runs_the_clock_checks(tmp_path):
    result = run_cli("doctor", "--json", env={"ASSISTANT_SERVICE__STATE_DIR": str(tmp_path)}, timeout=300)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["clock"]["stage"] == "clock" and checks["time zone"]["status"] == "ok"
