"""Hardware detection from /proc fixtures of real boards, profile files and recommendations, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path

import pytest

from assistant.errors import AssistantError, ConfigError
from assistant.hardware.detect import Gpu, Machine, board_of, detect, nominal_ram
from assistant.hardware.profiles import load_profile, load_profile_file, load_profiles, recommend, resolve

from ..conftest import run_cli

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("fixture", "board", "nominal", "dotprod", "profile"), [
    ("pi5-8gb", "pi5", 8, True, "pi5-8gb"),
    ("pi5-4gb", "pi5", 4, True, "pi5-4gb"),
    ("pi4-4gb", "pi4", 4, False, "pi4"),
])
def test_raspberry_pi_fixtures(fixture, board, nominal, dotprod, profile, tmp_path):
    machine = detect(DATA / fixture, models_dir=tmp_path)
    assert machine.board == board and machine.arch == "aarch64"
    assert machine.cores == 4
    assert machine.nominal_ram_gb == nominal and machine.ram_gb < nominal
    assert ("asimddp" in machine.features) is dotprod
    assert machine.gpus == ()
    chosen = recommend(machine)
    assert chosen is not None and chosen.name == profile
    assert chosen.engine_model == "e2b" and chosen.threads_for(machine) == 4
    assert chosen.local_tiers == ("e2b",) and "26b-a4b" in chosen.remote_tiers


def test_x86_fixture_with_a_24_gib_amd_gpu(tmp_path):
    machine = detect(DATA / "x86-amd-24gb", models_dir=tmp_path)
    assert machine.board == "x86" and machine.model == "MS-7E12"
    assert machine.cores == 16 and machine.nominal_ram_gb == 64
    assert machine.gpus == (Gpu("amd", "card1", 24.0),)
    chosen = recommend(machine)
    assert chosen is not None and chosen.name == "x86-gpu-24gb"
    assert "26b-a4b" in chosen.local_tiers and chosen.threads_for(machine) == 8


def test_this_machine(tmp_path):
    machine = detect(models_dir=tmp_path)
    assert machine.cores >= 1 and machine.ram_gb > 0 and machine.disk_free_gb > 0
    if platform.machine() == "x86_64":
        assert machine.board == "x86"
        chosen = recommend(machine)
        assert chosen is not None and chosen.name.startswith("x86-")


def machine(board: str, ram: int, vram: float = 0.0) -> Machine:
    gpus = (Gpu("nvidia", "test", vram),) if vram else ()
    arch = "x86_64" if board == "x86" else "aarch64"
    return Machine(arch, board, board, "cpu", 4, (), ram - 0.3, ram, 100.0, "/", gpus)


@pytest.mark.parametrize(("board", "ram", "vram", "expected"), [
    ("pi5", 2, 0, "pi5-2gb"), ("pi5", 4, 0, "pi5-4gb"), ("pi5", 8, 0, "pi5-8gb"), ("pi5", 16, 0, "pi5-16gb"),
    ("pi4", 2, 0, "pi4"), ("pi4", 8, 0, "pi4"),
    ("x86", 16, 0, "x86-cpu"), ("x86", 32, 8, "x86-cpu"), ("x86", 32, 16, "x86-gpu-24gb"),
    ("x86", 64, 24, "x86-gpu-24gb"), ("x86", 64, 48, "x86-gpu-48gb"), ("x86", 128, 80, "x86-gpu-48gb"),
    ("pi5", 1, 0, None), ("x86", 4, 0, None), ("pi", 1, 0, None),
])
def test_every_machine_gets_at_most_one_profile(board, ram, vram, expected):
    m = machine(board, ram, vram)
    matching = [p.name for p in load_profiles() if p.matches(m)]
    assert len(matching) <= 1, matching
    found = recommend(m)
    assert (found.name if found else None) == expected


def test_family_trade_offs_are_followed():
    by_name = {p.name: p for p in load_profiles()}
    assert all(p.engine_model == "e2b" for n, p in by_name.items() if n.startswith("pi"))
    assert by_name["x86-cpu"].engine_model == "e4b"
    assert "26b-a4b" in by_name["x86-gpu-24gb"].local_tiers
    assert "31b" in by_name["x86-gpu-48gb"].local_tiers and "31b" not in by_name["x86-gpu-24gb"].local_tiers


def test_board_names_and_nominal_ram():
    assert board_of("Raspberry Pi 5 Model B Rev 1.1", "aarch64") == "pi5"
    assert board_of("Raspberry Pi 400 Rev 1.0", "aarch64") == "pi4"
    assert board_of("Raspberry Pi 3 Model B Rev 1.2", "aarch64") == "pi"
    assert board_of("", "aarch64") == "arm64"
    assert nominal_ram(7.87) == 8 and nominal_ram(3.7) == 4 and nominal_ram(15.84) == 16 and nominal_ram(23.5) == 24


def test_resolve_setting():
    m = machine("pi5", 8)
    assert resolve("auto", m).name == "pi5-8gb"
    assert resolve("pi4", m).name == "pi4"
    with pytest.raises(AssistantError, match="unknown hardware profile 'pi9'"):
        resolve("pi9", m)
    with pytest.raises(AssistantError, match="no hardware profile fits"):
        resolve("auto", machine("pi5", 1))


def test_broken_profile_is_a_one_line_error(tmp_path):
    good = Path(load_profile("pi5-8gb").path).read_text()
    bad = tmp_path / "pi5-8gb.toml"
    bad.write_text(good.replace('decoder_precision = "q4"', 'decoder_precision = "q3"'))
    with pytest.raises(ConfigError, match=r"engine.decoder_precision = 'q3': not allowed"):
        load_profile_file(bad)
    renamed = tmp_path / "other.toml"
    renamed.write_text(good)
    with pytest.raises(ConfigError, match="must match the file name"):
        load_profile_file(renamed)
    (tmp_path / "x.toml").write_text("name = [")
    with pytest.raises(ConfigError, match="cannot read profile"):
        load_profile_file(tmp_path / "x.toml")


def test_cli_on_a_pi5_fixture():
    result = run_cli("hardware", "--root", str(DATA / "pi5-8gb"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["machine"]["board"] == "pi5"
    assert report["profile"]["name"] == "pi5-8gb"
    assert report["profile"]["threads_resolved"] == 4


def test_cli_text_warns_about_a_pi4():
    result = run_cli("hardware", "--root", str(DATA / "pi4-4gb"))
    assert result.returncode == 0
    assert "Recommended profile: pi4" in result.stdout
    assert "warning: this CPU has no int8 dot product" in result.stdout


def test_cli_on_this_machine_and_with_an_assumed_gpu():
    result = run_cli("hardware")
    assert result.returncode == 0, result.stderr
    assert "Recommended profile:" in result.stdout
    if platform.machine() == "x86_64" and detect().nominal_ram_gb >= 16:
        assumed = run_cli("hardware", "--vram", "48")
        assert "Recommended profile: x86-gpu-48gb" in assumed.stdout


def test_cli_errors_are_one_line():
    result = run_cli("hardware", "--root", "/nonexistent-dir")
    assert result.returncode == 2  # bad usage
    assert result.stderr.strip() == "assistant: error: --root /nonexistent-dir: not a directory"
    shown = run_cli("hardware", "show", "pi5-4gb")
    assert shown.returncode == 0 and 'name = "pi5-4gb"' in shown.stdout
    listed = run_cli("hardware", "profiles")
    assert len(listed.stdout.strip().splitlines()) == len(load_profiles())


def test_disk_warning(tmp_path):
    m = dataclasses.replace(detect(DATA / "pi5-8gb", models_dir=tmp_path), disk_free_gb=1.0)
    from assistant.hardware.report import warnings

    assert any("needs about 3.5 GB" in w for w in warnings(m, recommend(m)))


def test_profiles_found_after_a_wheel_install(monkeypatch, tmp_path):
    """Without the source tree, profiles come from <prefix>/share/assistant/hardware (pyproject data-files)."""
    import sys

    from assistant.hardware import profiles

    monkeypatch.delenv("ASSISTANT_HARDWARE_DIR", raising=False)
    monkeypatch.setattr(profiles, "PROFILE_DIR", tmp_path / "no-source-tree")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert profiles.profile_dir() == tmp_path / "share" / "assistant" / "hardware"
    monkeypatch.setenv("ASSISTANT_HARDWARE_DIR", str(tmp_path / "mine"))
    assert profiles.profile_dir() == tmp_path / "mine"
