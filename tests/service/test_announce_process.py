"""Announcements end to end: a real ``assistant run --wav`` process, a real Mosquitto, texts published by
real MQTT clients (``mosquitto_pub`` and paho), heard in the audio the assistant played into a
PulseAudio null sink; room targets against ``mqtt.area``; the Home Assistant notify and volume entities."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from assistant.audio.microphone import MicrophoneSource
from assistant.audio.resample import resample
from assistant.audio.tts import EspeakTts
from assistant.audio.wavfile import write_wav
from assistant.config.schema import AudioConfig
from assistant.protocols import SAMPLE_RATE

from ..audio.conftest import Recorder, best_correlation
from ..conftest import ROOT
from ..home.conftest import Broker

pytestmark = [
    pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto is not installed"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]

ROOT_TOPIC = "assistant/kitchen_pi"
CONFIG_TOPIC = "homeassistant/device/kitchen_pi/config"
OWN_TEXT = "The washing machine has finished."
GERMAN_TEXT = "Das Essen ist jetzt fertig, kommt bitte alle in die Küche."
HALL_ONLY = "Only the hall hears this."


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


def _config(tmp_path, model, broker) -> str:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\ndir = "{model}"\nmax_new_tokens = 8\nthreads = 1\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nclient_id = "kitchen-pi"\narea = "Kitchen"\n'
        f'[service]\nstate_dir = "{tmp_path / "state"}"\nfollow_up_s = 0.0\n'
        f"[announce]\nmax_chars = 120\n"
    )
    return str(path)


def _wait(predicate, timeout: float, proc) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the assistant exited: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    raise AssertionError("timed out")


def _results(spy) -> list[dict]:
    return [json.loads(p) for t, p, _ in list(spy.messages) if t == f"{ROOT_TOPIC}/announce/result"]


def _spoken_by_espeak(text: str, voice: str) -> np.ndarray:
    return resample(np.concatenate([c.samples for c in EspeakTts(voice).synthesize(text)]), 22050)


def test_texts_from_mqtt_clients_are_heard_targets_respected_and_entities_announced(tmp_path, tiny_audio_dir, broker, pulse):
    wav = tmp_path / "quiet.wav"
    write_wav(wav, np.zeros(8 * SAMPLE_RATE, dtype=np.int16))  # no wake word: the assistant only announces
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "NOTIFY_", "WATCHDOG_"))}
    env["PYTHONPATH"] = str(ROOT)
    spy = broker.client("spy")
    spy.subscribe("#")
    listening = Recorder(MicrophoneSource(AudioConfig(input_device="pulse", stall_timeout_s=5.0)))
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "--config", _config(tmp_path, tiny_audio_dir, broker),
                             "run", "--wav", str(wav)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        def discovered() -> dict | None:
            configs = [json.loads(p) for t, p, _ in list(spy.messages) if t == CONFIG_TOPIC and p]
            return next((c for c in reversed(configs) if "announce" in c["cmps"]), None)

        _wait(lambda: discovered() is not None, 120, proc)
        cmps = discovered()["cmps"]  # type: ignore[index]
        assert cmps["announce"]["p"] == "notify" and cmps["announce"]["command_topic"] == f"{ROOT_TOPIC}/announce"
        assert cmps["volume"]["p"] == "number" and cmps["volume"]["command_topic"] == f"{ROOT_TOPIC}/volume/set"
        assert spy.wait_for(f"{ROOT_TOPIC}/volume")[-1][1] == "80"

        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                        "-t", f"{ROOT_TOPIC}/announce", "-m", OWN_TEXT], check=True, timeout=10)  # as notify.send_message
        house = broker.client("home-assistant")
        house.publish("assistant/announce", json.dumps({"text": HALL_ONLY, "area": "hall"}))
        house.publish("assistant/announce", json.dumps({"text": GERMAN_TEXT, "areas": ["hall", "kitchen"]}))
        house.publish(f"{ROOT_TOPIC}/announce", "x" * 121)
        house.publish(f"{ROOT_TOPIC}/volume/set", "50")
        house.close()
        _wait(lambda: sum(r["status"] == "spoken" for r in _results(spy)) >= 2, 120, proc)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        listening.stop()
        spy.close()
    assert proc.returncode == 0, err[-2000:]
    results = [(r["status"], r["text"]) for r in _results(spy)]
    assert ("spoken", OWN_TEXT) in results and ("spoken", GERMAN_TEXT) in results
    assert not [r for r in results if r[1] == HALL_ONLY], "another room's announcement is ignored"
    refused = [r for r in _results(spy) if r["status"] == "refused"]
    assert len(refused) == 1 and "longer than 120 characters" in refused[0]["reason"]
    assert [p for t, p, _ in spy.messages if t == f"{ROOT_TOPIC}/volume"][-1] == "50"
    assert json.loads((tmp_path / "state" / "volume.json").read_text()) == {"percent": 50}
    heard = listening.audio()
    assert best_correlation(heard, _spoken_by_espeak(OWN_TEXT, "en-us")) > 0.6
    assert best_correlation(heard, _spoken_by_espeak(GERMAN_TEXT, "de")) > 0.6, "spoken by the German voice"
    assert best_correlation(heard, _spoken_by_espeak(GERMAN_TEXT, "en-us")) < 0.5
    assert "Traceback" not in err
