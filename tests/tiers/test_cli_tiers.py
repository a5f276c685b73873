"""``assistant tiers check`` and ``ask`` with a real config file, an API key file and the real server."""

from __future__ import annotations

from pathlib import Path

from ..conftest import run_cli
from .conftest import API_KEY
from .servers import free_port


def write_config(tmp_path: Path, url: str, model: str, privacy: str = "text", extra: str = "") -> Path:
    (tmp_path / "key").write_text(API_KEY + "\n")
    path = tmp_path / "config.toml"
    path.write_text(f'''[tiers]
privacy = "{privacy}"

[[tiers.remote]]
name = "desk"
url = "{url}"
model = "{model}"
server = "openai"
api_key_file = "key"
max_tokens = 8
timeout_s = 120.0
{extra}''')
    return path


def test_check_and_ask_with_the_key_from_a_file(llama, tmp_path):
    config = write_config(tmp_path, llama.url, llama.model_id)
    check = run_cli("-c", str(config), "tiers", "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("desk") and " ok " in check.stdout
    ask = run_cli("-c", str(config), "tiers", "ask", "Tell me about the sea.")
    assert ask.returncode == 0, ask.stderr
    assert ask.stdout.rstrip().endswith("(desk answered)")
    assert len(ask.stdout.strip()) > len("(desk answered)")


def test_check_reports_a_down_tier(tmp_path):
    config = write_config(tmp_path, f"http://127.0.0.1:{free_port()}/v1", "m")
    check = run_cli("-c", str(config), "tiers", "check")
    assert check.returncode == 1
    assert "FAILED" in check.stdout and "cannot connect" in check.stdout
    ask = run_cli("-c", str(config), "tiers", "ask", "hello")
    assert ask.returncode == 1
    assert ask.stderr.startswith("assistant: error: tier 'desk': cannot connect")
    assert "Traceback" not in ask.stderr


def test_privacy_off_contacts_nothing(listener, tmp_path):
    config = write_config(tmp_path, listener.url, "m", privacy="off")
    check = run_cli("-c", str(config), "tiers", "check")
    assert check.returncode == 0 and "nothing leaves this device" in check.stdout
    ask = run_cli("-c", str(config), "tiers", "ask", "hello")
    assert ask.returncode == 1 and "no remote tier to ask" in ask.stderr
    assert listener.connections == 0


def test_bad_tier_config_is_one_line(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:1/v1", "m", extra='thinking = "yes"\n')
    result = run_cli("-c", str(config), "tiers", "check")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_check_validates_rules(tmp_path):
    good = write_config(tmp_path, "http://127.0.0.1:1/v1", "m", privacy="off")
    rule = '[[tiers.rules]]\npattern = "diary"\ntier = "local"\n\n'
    good.write_text(good.read_text().replace("[[tiers.remote]]", rule + "[[tiers.remote]]"))
    result = run_cli("-c", str(good), "tiers", "check")
    assert result.returncode == 0 and "rule       /diary/ -> local" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('pattern = "diary"', 'pattern = "(diary"'))
    result = run_cli("-c", str(bad), "tiers", "check")
    assert result.returncode == 2
    assert "tiers.rules[0].pattern" in result.stderr and "not a regular expression" in result.stderr
