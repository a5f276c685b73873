"""The systemd units (checked by systemd-analyze) and the install script, run for real into a root dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT

UNIT = ROOT / "systemd" / "assistant.service"
USER_UNIT = ROOT / "systemd" / "user" / "assistant.service"
INSTALL = ROOT / "systemd" / "install.sh"
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="useradd --prefix and chown need root")


def settings(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@needs_analyze
def test_system_unit_verifies(tmp_path):
    """systemd-analyze verify, with ExecStart pointed at an existing file (the venv is not installed here)."""
    exe = executable(tmp_path / "assistant")
    unit = tmp_path / "assistant.service"
    unit.write_text(UNIT.read_text().replace("/opt/assistant/venv/bin/assistant", str(exe)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@needs_analyze
def test_user_unit_verifies(tmp_path):
    executable(tmp_path / "home" / ".local/share/assistant/venv/bin/assistant")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(runtime)}
    result = subprocess.run(["systemd-analyze", "verify", "--user", str(USER_UNIT)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@pytest.mark.parametrize("unit", [UNIT, USER_UNIT], ids=["system", "user"])
def test_units_notify_watchdog_restart_and_keep_audio(unit):
    s = settings(unit)
    assert s["Type"] == ["notify"]
    assert s["WatchdogSec"] == ["30"]
    assert s["Restart"] == ["on-failure"]
    assert "PrivateDevices" not in s and "MemoryDenyWriteExecute" not in s
    assert s.get("ProtectHome", ["read-only"]) != ["yes"]


def test_system_unit_hardening_allows_alsa():
    s = settings(UNIT)
    assert s["DeviceAllow"] == ["char-alsa rw"]
    assert s["SupplementaryGroups"] == ["audio"]
    assert s["DevicePolicy"] == ["closed"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["StateDirectory"] == ["assistant"]
    assert s["ExecStart"] == ["/opt/assistant/venv/bin/assistant run"]


def run_install(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd="/", timeout=300)


def test_dry_run_changes_nothing(tmp_path):
    target = tmp_path / "image"
    result = run_install("--dry-run", "--root", str(target))
    assert result.returncode == 0, result.stderr
    assert list(target.iterdir()) == []
    out = result.stdout
    for expected in ("-m venv", "pip install", "etc/assistant/config.toml", "var/lib/assistant/models",
                     "etc/systemd/system/assistant.service", f"systemctl --root={target} enable assistant.service"):
        assert expected in out


def test_user_mode_dry_run_uses_home(tmp_path):
    result = run_install("--dry-run", "--user", env={"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path}/.config/systemd/user/assistant.service" in result.stdout
    assert f"{tmp_path}/.local/state/assistant/models" in result.stdout
    assert "useradd" not in result.stdout


def test_bad_option_is_a_usage_error():
    result = run_install("--frobnicate")
    assert result.returncode == 2
    assert result.stderr.strip() == "install.sh: unknown option '--frobnicate' (see --help)"


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of this tree, built offline in a copy (the tree itself stays clean)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "assistant", src / "assistant", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(src)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = out.glob("assistant-*.whl")
    return wheel


@needs_root
@pytest.mark.slow
def test_install_into_a_root_dir_for_real(tmp_path):
    image = tmp_path / "image"
    (image / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        shutil.copy(Path("/etc") / name, image / "etc" / name)
    args = ("--root", str(image), "--from", str(build_wheel(tmp_path)), "--pip-args", "--no-deps --no-index")
    result = run_install(*args)
    assert result.returncode == 0, result.stdout + result.stderr

    user = next(line.split(":") for line in (image / "etc/passwd").read_text().splitlines() if line.startswith("assistant:"))
    uid, gid = int(user[2]), int(user[3])
    assert user[5:] == ["/var/lib/assistant", "/usr/sbin/nologin"]
    audio = next(line for line in (image / "etc/group").read_text().splitlines() if line.startswith("audio:"))
    assert "assistant" in audio.split(":")[3].split(",")
    config = image / "etc/assistant/config.toml"
    assert config.read_text() == (ROOT / "config.example.toml").read_text()
    assert (config.stat().st_mode & 0o777, config.stat().st_gid) == (0o640, gid)
    for d in ("var/lib/assistant", "var/lib/assistant/models"):
        st = (image / d).stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, gid, 0o750)
    assert (image / "etc/systemd/system/assistant.service").read_text() == UNIT.read_text()
    assert (image / "opt/assistant/README.md").read_text() == (ROOT / "README.md").read_text()  # Documentation=
    link = image / "etc/systemd/system/multi-user.target.wants/assistant.service"
    assert os.readlink(link) == "/etc/systemd/system/assistant.service"
    venv = image / "opt/assistant/venv"
    assert (venv / "bin/assistant").is_file()
    probe = subprocess.run([str(venv / "bin/python"), "-c", "import assistant; print(assistant.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True)
    assert probe.stdout.startswith(str(venv))

    config.write_text("# mine\n")
    again = run_install(*args)
    assert again.returncode == 0, again.stderr
    assert "keeping the existing /etc/assistant/config.toml" in again.stdout
    assert "useradd" not in again.stdout
    assert config.read_text() == "# mine\n"
