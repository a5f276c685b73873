"""Configuration loading: search order, overrides, secrets and every bad-input case."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from assistant.config import Config, load_config
from assistant.config.schema import RemoteTierConfig
from assistant.errors import ConfigError

from .conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_when_no_file(clean_home):
    config = load_config(environ={"HOME": str(clean_home)})
    assert config == Config()
    assert config.source == "(built-in defaults)"


def test_example_file_loads_and_matches_defaults(clean_home):
    config = load_config(str(EXAMPLE), environ={})
    assert dataclasses.replace(config, source="x") == dataclasses.replace(Config(), source="x")


def test_example_documents_every_key():
    text = EXAMPLE.read_text()
    lines = text.splitlines()
    for section in dataclasses.fields(Config):
        if section.name == "source":
            continue
        assert f"[{section.name}]" in lines
        for f in dataclasses.fields(section.default_factory()):  # type: ignore[misc]
            if f.metadata.get("secret"):
                continue
            pattern = re.compile(rf"^#? ?{f.name} = ")
            idx = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
            if idx is None and f.name == "remote":
                assert "# [[tiers.remote]]" in lines
                continue
            assert idx is not None, f"{section.name}.{f.name} missing from config.example.toml"
            assert lines[idx - 1].startswith("#") or "#" in lines[idx], f"{f.name} has no comment"
    for f in dataclasses.fields(RemoteTierConfig):
        if not f.metadata.get("secret"):
            assert re.search(rf"^# {f.name} = .*# \S", text, re.M), f"tiers.remote.{f.name} undocumented"


def test_search_order(tmp_path, clean_home):
    user = clean_home / ".config" / "assistant"
    user.mkdir(parents=True)
    write(user, "[mqtt]\nport = 1884\n")
    assert load_config(environ={}).mqtt.port == 1884
    env_file = write(tmp_path, "[mqtt]\nport = 1885\n", "env.toml")
    assert load_config(environ={"ASSISTANT_CONFIG": str(env_file)}).mqtt.port == 1885
    explicit = write(tmp_path, "[mqtt]\nport = 1886\n", "explicit.toml")
    assert load_config(str(explicit), environ={"ASSISTANT_CONFIG": str(env_file)}).mqtt.port == 1886


def test_env_overrides_with_types(tmp_path, clean_home):
    path = write(tmp_path, "[mqtt]\nport = 1884\nhost = 'broker'\n")
    env = {
        "ASSISTANT_MQTT__PORT": "1999",
        "ASSISTANT_MQTT__TLS": "yes",
        "ASSISTANT_VAD__END_SILENCE_MS": "500",
        "ASSISTANT_WAKEWORD__THRESHOLD": "0.7",
    }
    config = load_config(str(path), environ=env)
    assert config.mqtt.port == 1999
    assert config.mqtt.host == "broker"
    assert config.mqtt.tls is True
    assert config.vad.end_silence_ms == 500
    assert config.wakeword.threshold == pytest.approx(0.7)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().mqtt.port = 1  # type: ignore[misc]


def test_remote_tiers_from_array_of_tables(tmp_path, clean_home):
    key = write(tmp_path, "sk-secret\n", "key.txt")
    path = write(
        tmp_path,
        f'[[tiers.remote]]\nname = "gpu"\nurl = "http://10.0.0.2:8080/v1"\napi_key_file = "{key}"\n'
        '[[tiers.remote]]\nname = "big"\nserver = "vllm"\n',
    )
    tiers = load_config(str(path), environ={}).tiers.remote
    assert [t.name for t in tiers] == ["gpu", "big"]
    assert tiers[0].api_key == "sk-secret"
    assert tiers[1].server == "vllm" and tiers[1].api_key == ""
    assert "sk-secret" not in repr(tiers[0])


def test_secret_from_file_relative_to_config(tmp_path, clean_home):
    write(tmp_path, "hunter2\n", "mqtt_pass")
    path = write(tmp_path, '[mqtt]\npassword_file = "mqtt_pass"\n')
    config = load_config(str(path), environ={})
    assert config.mqtt.password == "hunter2"
    assert "hunter2" not in repr(config)


def test_secret_from_credentials_directory(tmp_path, clean_home):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text("from-systemd")
    config = load_config(environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert config.mqtt.password == "from-systemd"


BAD_CASES = [
    ("[mqtt]\nprot = 1\n", "mqtt.prot", "unknown key"),
    ("[mqqt]\nport = 1\n", "mqqt", "unknown key"),
    ("[mqtt]\nport = 'abc'\n", "mqtt.port", 'expected an integer'),
    ("[mqtt]\ntls = 1\n", "mqtt.tls", "expected true or false"),
    ("[mqtt]\nport = true\n", "mqtt.port", "expected an integer"),
    ("[mqtt]\nport = 70000\n", "mqtt.port", "out of range (allowed: 1 to 65535)"),
    ("[vad]\nmax_speech_s = 45\n", "vad.max_speech_s", "out of range (allowed: 1 to 30)"),
    ("[vad]\nengine = 'magic'\n", "vad.engine", "not allowed (allowed: webrtc, silero)"),
    ("[mqtt]\npassword = 'x'\n", "mqtt.password", "unknown key"),
    ("mqtt = 3\n", "mqtt", "expected a table"),
    ("[tiers]\nremote = 'x'\n", "tiers.remote", "expected a list of tables"),
    ("[[tiers.remote]]\ntimeout_s = -1\n", "tiers.remote[0].timeout_s", "out of range"),
    ("[mqtt\n", "", "invalid TOML"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD_CASES)
def test_bad_input_names_file_key_value_and_allowed(tmp_path, clean_home, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path), environ={})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert key in message
    assert problem in message


def test_missing_file(tmp_path, clean_home):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "nope.toml"), environ={})
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_config(environ={"ASSISTANT_CONFIG": str(tmp_path / "nope.toml")})


def test_unreadable_secret_file(tmp_path, clean_home):
    path = write(tmp_path, f'[mqtt]\npassword_file = "{tmp_path / "missing"}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path), environ={})
    assert "mqtt.password_file" in str(info.value)
    assert "cannot read secret file" in str(info.value)
    assert str(tmp_path / "missing") in str(info.value)


def test_secret_file_is_a_directory(tmp_path, clean_home):
    path = write(tmp_path, f'[mqtt]\npassword_file = "{tmp_path}"\n')
    with pytest.raises(ConfigError, match="cannot read secret file"):
        load_config(str(path), environ={})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_secret_without_permission(tmp_path, clean_home):
    secret = write(tmp_path, "x", "secret")
    secret.chmod(0)
    path = write(tmp_path, f'[mqtt]\npassword_file = "{secret}"\n')
    with pytest.raises(ConfigError, match="Permission denied"):
        load_config(str(path), environ={})


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ASSISTANT_MQTT__PORT": "eighty"}, "environment ASSISTANT_MQTT__PORT: mqtt.port = \"eighty\": expected an integer"),
        ({"ASSISTANT_MQTT__NOPE": "1"}, "mqtt.nope: unknown key"),
        ({"ASSISTANT_NOPE__X": "1"}, "nope.x: unknown section"),
        ({"ASSISTANT_MQTT__TLS": "maybe"}, "expected true or false"),
        ({"ASSISTANT_VAD__AGGRESSIVENESS": "9"}, "out of range (allowed: 0 to 3)"),
        ({"ASSISTANT_MQTT__PASSWORD": "x"}, "mqtt.password: unknown key"),
        ({"ASSISTANT_TIERS__REMOTE": "x"}, "cannot be set from the environment"),
    ],
)
def test_bad_environment_overrides(clean_home, env, problem):
    with pytest.raises(ConfigError) as info:
        load_config(environ=env)
    assert problem in str(info.value)
    assert str(info.value).startswith("environment ASSISTANT_")


def test_graph_cache_dir_follows_the_config_then_the_state_dir(tmp_path):
    from assistant.config import graph_cache_dir
    from assistant.config.schema import ModelConfig, ServiceConfig

    state = Config(service=ServiceConfig(state_dir=str(tmp_path / "state")))
    assert graph_cache_dir(state, environ={}) == tmp_path / "state" / "cache" / "graphs"
    chosen = dataclasses.replace(state, model=ModelConfig(graph_cache_dir=str(tmp_path / "graphs")))
    assert graph_cache_dir(chosen, environ={}) == tmp_path / "graphs"
