"""The stages' doctor checks (wake word, model verify, devices) and the hardware-profile check, on real parts."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from assistant.audio import doctor as audio_doctor
from assistant.config import Config
from assistant.config.schema import ModelConfig, MqttConfig, ServiceConfig, WakeWordConfig
from assistant.engine import doctor as engine_doctor
from assistant.hardware import Machine
from assistant.home import doctor as home_doctor
from assistant.service.checks import default_checks, system

from .e2e import device_broker


def test_every_stage_plugin_is_in_the_default_checks():
    names = [c.name for c in default_checks()]
    for name in ("wake word", "model verify", "devices", "hardware profile"):
        assert name in names
    assert names.index("wake word") > names.index("speaker") and names.index("model verify") > names.index("model files")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_wake_word_fires_on_the_spoken_test_clip():
    status, detail, _ = audio_doctor.wake_word(Config())
    assert status == "ok" and detail.startswith("fired (okay_nabu")


def test_wake_word_with_a_custom_model_is_skipped():
    config = Config(wakeword=WakeWordConfig(model="/opt/custom.onnx"))
    assert audio_doctor.wake_word(config)[0] == "skip"


def test_model_verify_passes_on_a_whole_model_and_names_the_fix_when_missing(tiny_text_dir, tmp_path):
    status, detail, _ = engine_doctor.model_verified(Config(model=ModelConfig(dir=str(tiny_text_dir))))
    assert status == "ok" and "checks passed" in detail and "text only" in detail
    broken = tmp_path / "broken"
    shutil.copytree(tiny_text_dir, broken)
    next((broken / "onnx").glob("decoder_model_merged_q4.onnx_data*")).write_bytes(b"short")
    status, detail, fix = engine_doctor.model_verified(Config(model=ModelConfig(dir=str(broken))))
    assert status == "fail" and "decoder_model_merged_q4" in detail and "assistant models pull e2b" in fix
    status, _, fix = engine_doctor.model_verified(Config(model=ModelConfig(dir=str(tmp_path / "none"))))
    assert status == "fail" and "model.dir" in fix


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")
@pytest.mark.parametrize(("only_fan", "status", "text"), [(False, "ok", "devices discovered"), (True, "ok", "1 devices")])
def test_devices_discovered_on_a_real_broker(tmp_path, only_fan, status, text):
    broker = device_broker(tmp_path / "broker", only_fan=only_fan)
    try:
        config = Config(mqtt=MqttConfig(host="127.0.0.1", port=broker.port))
        got, detail, _ = home_doctor.devices(config)
        assert got == status and text in detail
    finally:
        broker.stop()


def test_devices_on_an_empty_broker_warn_and_an_absent_one_is_left_to_the_broker_check(tmp_path):
    broker = device_broker(tmp_path / "broker", only_fan=True)
    port = broker.port
    cleaner = broker.client("cleaner")
    cleaner.publish("homeassistant/switch/attic_fan/config", "", retain=True)
    cleaner.close()
    try:
        status, detail, fix = home_doctor.devices(Config(mqtt=MqttConfig(host="127.0.0.1", port=port)))
        assert (status, detail) == ("warn", "no devices discovered") and "discovery" in fix
    finally:
        broker.stop()
    status, detail, _ = home_doctor.devices(Config(mqtt=MqttConfig(host="127.0.0.1", port=port, connect_timeout_s=0.5)))
    assert status == "skip" and "not checked" in detail
    assert home_doctor.devices(Config(mqtt=MqttConfig(enabled=False)))[0] == "skip"


def _machine(cores: int, ram: int) -> Machine:
    """A described machine (the check's input): CI machines differ, so the tests name theirs."""
    return Machine(arch="aarch64", board="pi5", model="Raspberry Pi 5 Model B Rev 1.0", cpu="Cortex-A76", cores=cores,
                   features=("asimd", "asimddp", "fphp", "asimdhp"), ram_gb=ram - 0.2, nominal_ram_gb=ram,
                   disk_free_gb=50.0, disk_path="/")


@pytest.mark.parametrize(("profile", "cores", "ram", "status"), [
    ("auto", 4, 8, "ok"),          # pi5-8gb recommended
    ("pi5-8gb", 4, 4, "fail"),     # 4 GB is below the profile's minimum
    ("pi5-8gb", 2, 8, "warn"),     # 4 threads on 2 cores
    ("no-such-profile", 4, 8, "warn"),
])
def test_hardware_profile_thresholds(monkeypatch, profile, cores, ram, status):
    import assistant.hardware

    monkeypatch.setattr(assistant.hardware, "detect", lambda **kwargs: _machine(cores, ram))
    result = system.hardware_profile(dataclasses.replace(Config(), service=ServiceConfig(hardware_profile=profile)))
    assert result.status == status, result
    if status != "ok":
        assert result.fix
