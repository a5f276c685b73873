"""``assistant doctor``: the framework, and checks against real parts (PortAudio on an ALSA file
device, Mosquitto, an HTTP server speaking the OpenAI models API)."""

from __future__ import annotations

import io
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from assistant.config import Config
from assistant.config.schema import ModelConfig, MqttConfig, RemoteTierConfig, ServiceConfig, TiersConfig
from assistant.service.checks import model, network, system
from assistant.service.doctor import Check, Result, report, run_checks
from tests.conftest import free_port
from tests.home.conftest import Broker

from ..conftest import run_cli


def test_runner_turns_exceptions_into_failures_and_sets_exit_code():
    def boom(config):
        raise ValueError("bad\nthing")

    checks = [Check("fine", lambda c: Result.ok("all good")), Check("boom", boom),
              Check("meh", lambda c: Result.warn("so so", "do x")), Check("not here", lambda c: Result.skip("n/a"))]
    out = io.StringIO()
    assert report(checks, Config(), out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["ok", "fine", "all", "good"]
    assert lines[1].startswith("FAIL  boom") and "ValueError: bad" in lines[1] and "thing" not in lines[1]
    assert lines[2].strip().startswith("fix: please report this")
    assert lines[3].startswith("warn  meh") and lines[4].strip() == "fix: do x"
    assert lines[-1] == "1 ok, 1 warnings, 1 failed, 1 skipped"
    assert report(checks[2:], Config(), io.StringIO()) == 0  # warnings do not fail


def test_json_and_only():
    checks = [Check("a", lambda c: Result.ok("x")), Check("b", lambda c: Result.fail("y", "z"))]
    out = io.StringIO()
    assert report(checks, Config(), out, as_json=True, only={"a"}) == 0
    data = json.loads(out.getvalue())
    assert [(c["name"], c["status"]) for c in data["checks"]] == [("a", "ok")]
    assert [o.check.name for o in run_checks(checks, Config(), {"b"})] == ["b"]


def test_meminfo_and_memory_limits(tmp_path, monkeypatch):
    path = tmp_path / "meminfo"
    path.write_text("MemTotal:        8000000 kB\nMemAvailable:    1000000 kB\nHugePages_Total:       0\n")
    assert system.meminfo(path) == {"MemTotal": 8_192_000_000, "MemAvailable": 1_024_000_000, "HugePages_Total": 0}
    gib = system.GIB
    for total, available, status in [(8, 6, "ok"), (8, 1, "warn"), (3, 2, "warn"), (1, 1, "fail")]:
        monkeypatch.setattr(system, "meminfo", lambda t=total, a=available: {"MemTotal": t * gib, "MemAvailable": a * gib})
        assert system.memory(Config()).status == status


def test_state_dir_check(tmp_path):
    assert system.state_directory(Config(service=ServiceConfig(state_dir=str(tmp_path / "s")))).status == "ok"
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = system.state_directory(Config(service=ServiceConfig(state_dir=str(blocker / "s"))))
    assert result.status == "fail" and "service.state_dir" in result.fix


def test_model_files_present_or_named_when_missing(tmp_path):
    config = Config(model=ModelConfig(dir=str(tmp_path / "m"), decoder_precision="q4f16"))
    assert model.model_files(config).status == "fail"
    for name in model.required_files(config):
        (tmp_path / "m" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "m" / name).write_bytes(b"x" * 1000)
    (tmp_path / "m/onnx/decoder_model_merged_q4f16.onnx_data_1").write_bytes(b"x" * 500)
    result = model.model_files(config)
    assert result.status == "ok", result
    assert "onnx/decoder_model_merged_q4f16.onnx_data" in model.required_files(config)
    (tmp_path / "m/tokenizer.json").unlink()
    result = model.model_files(config)
    assert result.status == "fail" and "tokenizer.json" in result.detail and "q4f16" in result.fix


@pytest.fixture
def alsa_home(tmp_path):
    """A HOME whose ~/.asoundrc makes ALSA's default device a file: capture reads in.raw, playback writes out.raw."""
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "out.raw").write_bytes(b"")
    (home / ".asoundrc").write_text(
        "pcm.!default {\n type asym\n"
        f' playback.pcm {{ type file; slave.pcm "null"; file "{tmp_path}/out.raw"; format "raw" }}\n'
        f' capture.pcm {{ type file; slave.pcm "null"; file "/dev/null"; infile "{tmp_path}/in.raw"; format "raw" }}\n'
        "}\n"
    )
    return home


def write_input(tmp_path, amplitude: float):
    t = np.arange(16000 * 3) / 16000
    (np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype("<i2").tofile(tmp_path / "in.raw")


def test_microphone_level_and_speaker_on_real_portaudio(tmp_path, alsa_home):
    write_input(tmp_path, 0.1)  # a sine at 0.1 of full scale: RMS -23 dBFS
    result = run_cli("doctor", "--only", "audio devices", "--only", "microphone", "--only", "speaker",
                     env={"HOME": str(alsa_home)})
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines[1].split()[:2] == ["ok", "audio"]
    assert lines[2].startswith("ok    microphone") and "level -23 dBFS, peak 3276" in lines[2]
    assert lines[3].startswith("ok    speaker")
    played = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype="<i2")
    assert len(played) > 1000 and np.abs(played).max() > 1000  # the tone reached the device


def test_silent_microphone_is_a_warning(tmp_path, alsa_home):
    write_input(tmp_path, 0.0)
    result = run_cli("doctor", "--only", "microphone", env={"HOME": str(alsa_home)})
    assert result.returncode == 0
    assert "(silent)" in result.stdout and "alsamixer" in result.stdout


def test_no_sound_card_fails_with_a_fix(tmp_path, clean_home):
    result = run_cli("doctor", "--only", "microphone", "--only", "audio devices", env={"HOME": str(clean_home)})
    if "ok    audio devices" in result.stdout:
        pytest.skip("this machine has a sound card")
    assert result.returncode == 1
    assert "FAIL  audio devices" in result.stdout and "fix: plug in a USB microphone" in result.stdout


def test_bad_config_is_reported_and_the_rest_still_runs(tmp_path, clean_home):
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nport = 70000\n")
    result = run_cli("--config", str(bad), "doctor", "--only", "state dir",
                     env={"HOME": str(clean_home), "ASSISTANT_SERVICE__STATE_DIR": str(tmp_path / "s")})
    assert result.returncode == 1
    assert "FAIL  config" in result.stdout and "mqtt.port = 70000: out of range" in result.stdout
    assert "ok    state dir" in result.stdout


def test_unknown_check_name_is_a_usage_error(clean_home):
    result = run_cli("doctor", "--only", "flux capacitor", env={"HOME": str(clean_home)})
    assert result.returncode == 2
    assert "unknown check flux capacitor" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto not installed")
def test_broker_login_against_real_mosquitto(tmp_path):
    broker = Broker(tmp_path / "broker", users={"assistant": "s3cret"})
    broker.start()
    try:
        good = Config(mqtt=MqttConfig(host="127.0.0.1", port=broker.port, username="assistant", password="s3cret"))
        result = network.broker(good)
        assert result == Result.ok(f"connected to 127.0.0.1:{broker.port} as assistant")
        wrong = Config(mqtt=MqttConfig(host="127.0.0.1", port=broker.port, username="assistant", password="nope"))
        result = network.broker(wrong)
        assert result.status == "fail" and "refused the login" in result.detail and "password_file" in result.fix
        anonymous = network.broker(Config(mqtt=MqttConfig(host="127.0.0.1", port=broker.port)))
        assert anonymous.status == "fail" and "refused" in anonymous.detail
    finally:
        broker.stop()


def test_broker_not_running_and_disabled():
    result = network.broker(Config(mqtt=MqttConfig(host="127.0.0.1", port=free_port())))
    assert result.status == "fail" and "cannot reach" in result.detail and "Connection refused" in result.detail
    assert network.broker(Config(mqtt=MqttConfig(enabled=False))).status == "skip"


class ModelsApi(BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible ``/v1/models`` endpoint that wants ``Bearer k``."""

    def do_GET(self):
        if self.headers.get("Authorization") != "Bearer k":
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"object": "list", "data": [{"id": "gemma-4-26b-a4b"}]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_remote_tiers_against_a_real_http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ModelsApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"

    def tiers(*remote, privacy="text"):
        return network.remote_tiers(Config(tiers=TiersConfig(privacy=privacy, remote=remote)))

    try:
        assert tiers(RemoteTierConfig(name="gpu", url=url, api_key="k")).status == "ok"
        other = tiers(RemoteTierConfig(name="gpu", url=url, api_key="k", model="llama"))
        assert other.status == "warn" and "gemma-4-26b-a4b" in other.detail
        denied = tiers(RemoteTierConfig(name="gpu", url=url, api_key="wrong"))
        assert denied.status == "fail" and "HTTP 401" in denied.detail
        gone = tiers(RemoteTierConfig(name="off", url=f"http://127.0.0.1:{free_port()}/v1"))
        assert gone.status == "fail" and "cannot reach" in gone.detail
        assert tiers().status == "skip"
        assert tiers(RemoteTierConfig(url=url), privacy="off").status == "skip"
    finally:
        server.shutdown()


def test_stage_plugin_checks_are_discovered_and_adapted():
    from assistant.service.checks import builtin_checks, default_checks, plugin_checks

    checks = plugin_checks([("audio", "tests.service.plugin_checks_example"), ("engine", "assistant.no_such_stage.doctor"),
                            ("mqtt", "tests.service.no_such_module")])
    assert [(c.name, c.stage) for c in checks] == [("wake word", "audio"), ("devices", "audio"), ("odd", "audio")]
    results = [o.result for o in run_checks(checks, Config())]
    assert results[0] == Result.ok(f"fired on the test clip at {Config().wakeword.threshold}")  # the config reached it
    assert results[1] == Result.warn("no devices discovered", "check mqtt.discovery_prefix")
    assert results[2].status == "fail" and "unknown status 'maybe'" in results[2].detail
    builtin = [c.name for c in builtin_checks()]
    assert [c.name for c in default_checks() if c.name in builtin] == builtin  # plug-ins only add


def test_a_broken_plugin_module_is_a_failing_check(tmp_path, monkeypatch):
    (tmp_path / "broken_stage_doctor.py").write_text("import does_not_exist_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from assistant.service.checks import plugin_checks

    (check,) = plugin_checks([("engine", "broken_stage_doctor")])
    result = check.run(Config())
    assert check.name == "engine checks" and result.status == "fail"
    assert "No module named 'does_not_exist_anywhere'" in result.detail
