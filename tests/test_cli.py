"""The assistant command as a user runs it: exit codes and one-line errors."""

from __future__ import annotations

import builtins
import sys

import pytest

from assistant import __version__, cli

from .conftest import ROOT, run_cli


def test_help_lists_commands(clean_home):
    result = run_cli("--help", env={"HOME": str(clean_home)})
    assert result.returncode == 0
    assert "config" in result.stdout and "devices" in result.stdout


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"assistant {__version__}"


def test_no_command_is_a_usage_error():
    assert run_cli().returncode == 2


def test_config_check_example_succeeds(clean_home):
    result = run_cli("config", "check", str(ROOT / "config.example.toml"), env={"HOME": str(clean_home)})
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[mqtt]\nport = 70000\n", "mqtt.port = 70000: out of range (allowed: 1 to 65535)"),
        ("[mqtt]\nprot = 1\n", "mqtt.prot: unknown key"),
        ("[vad]\nengine = 3\n", 'vad.engine = 3: expected a string'),
        ('[mqtt]\npassword_file = "/nonexistent/secret"\n', "cannot read secret file"),
    ],
)
def test_config_check_bad_file_one_line(tmp_path, clean_home, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run_cli("config", "check", str(path), env={"HOME": str(clean_home)})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"assistant: error: {path}: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_config_check_missing_file(tmp_path, clean_home):
    result = run_cli("config", "check", str(tmp_path / "missing.toml"), env={"HOME": str(clean_home)})
    assert result.returncode == 2
    assert result.stderr.strip() == f"assistant: error: {tmp_path / 'missing.toml'}: config file not found"


def test_global_config_flag_and_env(tmp_path, clean_home):
    path = tmp_path / "c.toml"
    path.write_text("[mqtt]\nport = 1999\n")
    result = run_cli("--config", str(path), "config", "show", env={"HOME": str(clean_home)})
    assert result.returncode == 0
    assert "port = 1999" in result.stdout
    result = run_cli("config", "show", env={"HOME": str(clean_home), "ASSISTANT_MQTT__PORT": "2001"})
    assert "port = 2001" in result.stdout


def test_config_show_hides_secrets(tmp_path, clean_home):
    secret = tmp_path / "pw"
    secret.write_text("hunter2")
    path = tmp_path / "c.toml"
    path.write_text(f'[mqtt]\npassword_file = "{secret}"\n')
    result = run_cli("config", "show", str(path), env={"HOME": str(clean_home)})
    assert result.returncode == 0
    assert "hunter2" not in result.stdout
    assert "# password: set; never shown" in result.stdout and "<set>" not in result.stdout


def test_devices_lists_or_explains(clean_home):
    """Real PortAudio: with no sound card here it says so plainly; never a traceback."""
    result = run_cli("devices", env={"HOME": str(clean_home)})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "audio devices" in result.stdout or "ch_in" in result.stdout


def test_devices_without_portaudio_is_one_line(monkeypatch, capsys):
    """If libportaudio2 is missing, sounddevice raises OSError on import: we say what to install."""
    real_import = builtins.__import__

    def no_portaudio(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    assert cli.main(["devices"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "assistant: error: PortAudio library not found: install it with 'sudo apt install libportaudio2'"


def test_importing_the_package_never_imports_torch():
    code = "import sys, assistant.cli; assistant.cli.build_parser(); print('torch' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
