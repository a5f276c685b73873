"""Hostile and careless input to the command line: one clear line and the documented exit code, never a traceback."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from assistant.commands.config import to_toml
from assistant.config import load_config
from assistant.config.validate import ERROR, WARNING, findings

from .conftest import ROOT, run_cli

NON_UTF8 = b'[mqtt]\nhost = "caf\xe9"\n'

# Every command that loads the configuration, with arguments that get it as far as loading it.
LOADS_CONFIG = [
    ["config", "check"],
    ["config", "show"],
    ["ask", "hello"],
    ["run"],
    ["stats"],
    ["doctor"],
    ["hardware"],
    ["models", "list"],
    ["models", "verify"],
    ["tiers", "check"],
    ["tiers", "ask", "hello"],
    ["listen", "--wav", "x.wav"],
    ["devices", "mqtt"],
]


def _no_traceback(result) -> None:
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("command", LOADS_CONFIG, ids=lambda c: " ".join(c))
def test_non_utf8_config_is_one_line_for_every_command(tmp_path, clean_home, command):
    config = tmp_path / "latin1.toml"
    config.write_bytes(NON_UTF8)
    result = run_cli("--config", str(config), *command, env={"HOME": str(clean_home)})
    _no_traceback(result)
    message = f"{config}: not UTF-8 text (byte 18); save the config file as UTF-8"
    if command == ["doctor"]:  # doctor reports it as its failed "config" check and checks the rest
        assert result.returncode == 1 and f"FAIL  config           {message}" in result.stdout
        return
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"assistant: error: {message}\n"


def _unusable_state_dirs(tmp_path: Path) -> list[tuple[str, str]]:
    """``(state_dir, what the error says)``: tests run as root, so only places root cannot write either."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return [
        (str(blocker), "is not a directory"),  # a regular file
        (str(blocker / "state"), "is not a directory"),  # a file in the way
        ("/proc/assistant-state", "cannot write there"),  # /proc refuses new entries, even to root
        ("/proc/self/status/x", "is not a directory"),
    ]


@pytest.mark.parametrize("command", [["ask", "hello"], ["run"], ["run", "--wav", "x.wav", "--no-wake"]],
                         ids=lambda c: " ".join(c))
def test_unusable_state_dir_stops_ask_and_run_with_one_line(tmp_path, clean_home, command):
    for state, expected in _unusable_state_dirs(tmp_path):
        config = tmp_path / "config.toml"
        config.write_text(f'[service]\nstate_dir = "{state}"\n[mqtt]\nenabled = false\n')
        result = run_cli("--config", str(config), *command, env={"HOME": str(clean_home)})
        _no_traceback(result)
        assert result.returncode == 2, (state, result.stderr)
        assert result.stderr.startswith(f'assistant: error: {config}: service.state_dir = "{state}": '
                                        "not a usable state directory: "), result.stderr
        assert expected in result.stderr


def test_state_dir_from_the_environment_is_checked_too(tmp_path, clean_home):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("ask", "hello", env={"HOME": str(clean_home), "STATE_DIRECTORY": str(blocker)})
    _no_traceback(result)
    assert result.returncode == 2
    assert "service.state_dir (default)" in result.stderr and "is not a directory" in result.stderr


def test_listen_save_onto_a_file_is_a_usage_error(tmp_path, clean_home):
    target = tmp_path / "recordings"
    target.write_text("not a folder")
    result = run_cli("listen", "--wav", "x.wav", "--save", str(target), env={"HOME": str(clean_home)})
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr == (f"assistant: error: --save {target}: {target} is not a directory; "
                             "give a directory for the utterances\n")
    assert target.read_text() == "not a folder"


def test_listen_save_never_overwrites_earlier_utterances(tmp_path):
    from assistant.commands.listen import fresh_path

    (tmp_path / "utterance-001.wav").write_bytes(b"kept")
    (tmp_path / "utterance-002.wav").write_bytes(b"kept")
    assert fresh_path(tmp_path, 1) == tmp_path / "utterance-003.wav"
    assert fresh_path(tmp_path, 4) == tmp_path / "utterance-004.wav"


@pytest.mark.parametrize("seed", ["-1", "2147483648"])
def test_ask_sample_with_a_bad_seed_is_a_usage_error(clean_home, seed):
    result = run_cli("ask", "--sample", "--seed", seed, "hello", env={"HOME": str(clean_home)})
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr == f"assistant: error: --seed {seed}: expected 0 to 2147483647\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vram", "0.5", "--model", "26b-a4b"], "--vram 0.5: expected 1 to 4096 GiB"),
        (["--vram", "24", "--model", "26b-a4b", "--ctx", "10"], "--ctx 10: expected 512 to 262144 tokens"),
        (["--vram", "24", "--model", "nope"], "invalid choice"),
        (["--model", "31b"], "the following arguments are required: --vram"),
    ],
)
def test_tiers_plan_usage_errors_exit_2(clean_home, args, message):
    result = run_cli("tiers", "plan", *args, env={"HOME": str(clean_home)})
    _no_traceback(result)
    assert result.returncode == 2
    assert message in result.stderr


# ---- config check validates what run needs --------------------------------------------------------------------


BAD_FOR_RUN = [
    ('[[tiers.rules]]\npattern = "(on|off"\n', "tiers.rules[0].pattern", "not a regular expression"),
    ('[[tiers.rules]]\npattern = "x"\ntier = "gpu"\n', "tiers.rules[0].tier", "not allowed"),
    ('[[tiers.remote]]\nurl = "ftp://10.0.0.2/v1"\n', "tiers.remote[0].url", "expected http://HOST[:PORT]/v1"),
    ('[[tiers.remote]]\nurl = "http:///v1"\n', "tiers.remote[0].url", "expected http://HOST[:PORT]/v1"),
    ('[wakeword]\nmodel = "hey_computer"\n', "wakeword.model", "unknown wake word"),
    ('[wakeword]\nmodel = "/nonexistent/hey.onnx"\n', "wakeword.model", "no such file"),
    ('[mqtt]\ntls = true\nca_file = "/nonexistent/ca.pem"\n', "mqtt.ca_file", "no such file"),
    ('[mqtt]\noverrides_file = "/nonexistent/overrides.toml"\n', "mqtt.overrides_file", "no such file"),
    ('[mqtt]\noverrides_file = "/proc/self/cmdline"\n', "mqtt.overrides_file", "invalid TOML"),
    ('[tts]\nengine = "piper"\nfallback = false\npiper_model = "/nonexistent/v.onnx"\n', "tts.piper_model",
     "no such file"),
    ('[vad]\nengine = "silero"\nsilero_model = "/tmp"\n', "vad.silero_model", "is a directory"),
    ('[model]\ndir = "/nonexistent/model"\n', "model.dir", "no such directory"),
    ('[service]\nstate_dir = "/proc/assistant-state"\n', "service.state_dir", "not a usable state directory"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD_FOR_RUN, ids=[c[1] + ":" + c[2] for c in BAD_FOR_RUN])
def test_config_check_fails_on_what_run_would_fail_on(tmp_path, clean_home, text, key, problem):
    config = tmp_path / "config.toml"
    config.write_text(text)
    config.chmod(0o600)
    env = {"HOME": str(clean_home)}
    check = run_cli("config", "check", str(config), env=env)
    _no_traceback(check)
    assert check.returncode == 2, check.stderr
    first = check.stderr.splitlines()[0]
    assert first.startswith(f"assistant: error: {config}: {key}") and problem in first, check.stderr
    assert check.stderr.splitlines()[-1] == f"assistant: error: {config}: 1 problem (listed above)"
    # ``run`` makes the same check (one place), before it loads anything
    run = run_cli("--config", str(config), "run", env=env)
    _no_traceback(run)
    assert run.returncode == 2
    assert run.stderr == first + "\n"


def test_config_check_lists_every_problem(tmp_path, clean_home):
    config = tmp_path / "config.toml"
    config.write_text(BAD_FOR_RUN[0][0] + BAD_FOR_RUN[4][0] + BAD_FOR_RUN[-1][0])
    result = run_cli("config", "check", str(config), env={"HOME": str(clean_home)})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 4 and lines[-1].endswith("3 problems (listed above)")


def test_config_check_accepts_an_existing_wake_word_file_and_readable_files(tmp_path, clean_home):
    model = tmp_path / "hey.onnx"
    model.write_bytes(b"x")
    overrides = tmp_path / "overrides.toml"
    overrides.write_text("")
    config = tmp_path / "config.toml"
    config.write_text(f'[wakeword]\nmodel = "{model}"\n[mqtt]\noverrides_file = "{overrides}"\n'
                      '[[tiers.rules]]\npattern = "weather|news"\ntier = "remote"\n'
                      '[[tiers.remote]]\nurl = "https://gpu.lan:8443/v1"\n')
    config.chmod(0o644)
    result = run_cli("config", "check", str(config), env={"HOME": str(clean_home)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{config}: OK\n" and result.stderr == ""


def test_config_check_warns_on_loose_permissions_without_failing(tmp_path, clean_home):
    password = tmp_path / "mqtt_password"
    password.write_text("hunter2\n")
    key = tmp_path / "tier_key"
    key.write_text("sk-1\n")
    config = tmp_path / "config.toml"
    config.write_text('[mqtt]\npassword_file = "mqtt_password"\n[[tiers.remote]]\napi_key_file = "tier_key"\n')
    config.chmod(0o666)
    password.chmod(0o644)
    key.chmod(0o640)
    result = run_cli("config", "check", str(config), env={"HOME": str(clean_home)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{config}: OK (3 warnings)\n"
    warnings = result.stderr.splitlines()
    assert len(warnings) == 3 and all(w.startswith(f"assistant: warning: {config}") for w in warnings)
    assert "anyone on this machine can change this file (mode 666)" in warnings[0]
    assert "mqtt.password_file" in warnings[1] and "anyone on this machine can read" in warnings[1]
    assert "tiers.remote[0].api_key_file" in warnings[2] and "its group can read" in warnings[2]
    assert "hunter2" not in result.stderr + result.stdout
    config.chmod(0o600)
    password.chmod(0o600)
    key.chmod(0o400)
    quiet = run_cli("config", "check", str(config), env={"HOME": str(clean_home)})
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == f"{config}: OK\n"


def test_findings_levels(tmp_path, clean_home):
    config = tmp_path / "config.toml"
    config.write_text('[tts]\nengine = "piper"\npiper_model = "/nonexistent.onnx"\n')
    config.chmod(0o600)
    loaded = load_config(str(config), environ={"HOME": str(clean_home)})
    # with tts.fallback (the default) run speaks with espeak-ng instead: a warning, not an error
    assert {(f.level, f.key) for f in findings(loaded)} == {(WARNING, "tts.piper_model")}
    strict = tmp_path / "strict.toml"
    strict.write_text(config.read_text() + "fallback = false\n")
    strict.chmod(0o600)
    assert {f.level for f in findings(load_config(str(strict), environ={"HOME": str(clean_home)}))} == {ERROR}


# ---- config show is a config ----------------------------------------------------------------------------------


def test_config_show_output_is_a_valid_config(tmp_path, clean_home):
    password = tmp_path / "pw"
    password.write_text("hunter2")
    password.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mqtt]\npassword_file = "{password}"\nhost = "broker.lan"\n'
        '[model]\nsystem_prompt = """Be brief.\nSay "done" \\\\ nothing else.\tThanks\u00e9"""\n'
        '[[tiers.remote]]\nname = "gpu"\nurl = "http://10.0.0.2:8080/v1"\n'
        '[[tiers.remote]]\nname = "big"\nserver = "vllm"\nenabled = false\n'
        '[[tiers.rules]]\npattern = "^(what|who)\\\\b"\ntier = "gpu"\n'
        '[service]\nfollow_up_s = 2.5\n'
    )
    config.chmod(0o600)
    env = {"HOME": str(clean_home)}
    shown = run_cli("config", "show", str(config), env=env)
    assert shown.returncode == 0, shown.stderr
    assert "hunter2" not in shown.stdout and "<set>" not in shown.stdout
    assert "# password: set; never shown" in shown.stdout
    copy = tmp_path / "shown" / "config.toml"
    copy.parent.mkdir()
    copy.write_text(shown.stdout)
    copy.chmod(0o600)
    check = run_cli("config", "check", str(copy), env=env)
    assert check.returncode == 0, check.stderr
    assert check.stdout == f"{copy}: OK\n"
    original, again = load_config(str(config), environ=env), load_config(str(copy), environ=env)
    assert again == original


def test_to_toml_round_trips_every_default_and_odd_strings():
    from assistant.config import Config
    from assistant.config.schema import ModelConfig

    odd = Config(model=ModelConfig(system_prompt='a "b" \\ c\nd\x01\x7f\u2028 \U0001f600'))
    text = to_toml(odd)
    raw = tomllib.loads(text)
    assert raw["model"]["system_prompt"] == odd.model.system_prompt


def test_config_show_example_file_checks(tmp_path, clean_home):
    env = {"HOME": str(clean_home)}
    shown = run_cli("config", "show", str(ROOT / "config.example.toml"), env=env)
    copy = tmp_path / "c.toml"
    copy.write_text(shown.stdout)
    os.chmod(copy, stat.S_IRUSR | stat.S_IWUSR)
    assert run_cli("config", "check", str(copy), env=env).returncode == 0


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invalid TOML (nested too deeply)"),
        (b'[service]\nstate_dir = "~nosuchuser/state"\n', "service.state_dir = \"~nosuchuser/state\": no such user's home"),
        (b'[mqtt]\nca_file = "a\\u0000b"\n', 'mqtt.ca_file = "a\\x00b": a path cannot contain a NUL character'),
        (b'[model]\nsystem_prompt = 3\n', "model.system_prompt = 3: expected a string"),
        (b'[mqtt]\n"pr\\not" = 1\n', "mqtt.pr\\not: unknown key"),
    ],
    ids=["deep", "unknown-user", "nul", "type", "newline-key"],
)
def test_hostile_documents_are_one_line(tmp_path, clean_home, document, expected):
    config = tmp_path / "config.toml"
    config.write_bytes(document)
    result = run_cli("config", "check", str(config), env={"HOME": str(clean_home)})
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr


def test_models_pull_into_an_unusable_place_fails_before_downloading(tmp_path, clean_home):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {"HOME": str(clean_home), "ASSISTANT_SERVICE__STATE_DIR": str(blocker), "HF_HUB_OFFLINE": "1"}
    for args in (["e2b"], ["e4b"], ["e2b", "--dir", "/proc/assistant-model"]):
        result = run_cli("models", "pull", *args, env=env)
        _no_traceback(result)
        assert result.returncode == 1
        assert result.stderr.startswith("assistant: error: cannot put the model in ") and "--dir" in result.stderr
        assert "Hugging Face" not in result.stderr  # nothing was tried yet
