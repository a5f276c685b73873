"""Wake words on real speech: the bundled microWakeWord models on espeak-ng voices, false accepts
on long non-wake speech and noise, openWakeWord user models, and the Detector's rules.

What the bundled models make of espeak-ng (max score, 160 wpm, no noise; measured here):
okay_nabu fires on en-us / en-gb / en-us+m3 / en-gb-x-rp (>= 0.92), hey_jarvis only on the
female en+f4 / en+f3 voices (0.76-0.99, ~0 on male voices), hey_mycroft on en-gb / en+f3 /
en-gb-x-rp (>= 0.98), alexa on en-us / en-gb / en-us+m3 / en-gb-x-rp (0.996).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.clips import VOICES, alsa_speech, espeak, noise
from assistant.audio.factory import make_wakeword
from assistant.audio.wakeword import Detector, EitherModel, MicroWakeWordModel, OpenWakeWordModel, load_wakeword
from assistant.config.schema import WAKE_MODELS, WakeWordConfig
from assistant.errors import AssistantError

from .conftest import frames_of, needs_espeak, needs_oww

PHRASES = {"okay_nabu": "okay nabu", "hey_jarvis": "hey jarvis", "alexa": "alexa", "hey_mycroft": "hey mycroft"}
FIRING_VOICE = {"okay_nabu": "en-us", "hey_jarvis": "en+f4", "alexa": "en-gb", "hey_mycroft": "en-gb-x-rp"}
NON_WAKE_TEXT = (
    "Good morning. Today the weather will be cloudy with a chance of rain in the afternoon. "
    "Please remember to water the plants and to close the windows before you leave the house. "
    "The meeting was moved to Thursday at three o'clock, and the report is due next week."
)


def detections(detector: Detector, samples) -> list[float]:
    """Times (s) at which the detector fired."""
    return [detector.t for f in frames_of(samples) if detector.detect(f)]


@pytest.fixture(scope="module")
def non_wake_audio():
    """About two minutes of speech that is not a wake word (5 espeak-ng voices, 8 recordings) and noise."""
    rng = np.random.default_rng(0)
    parts = [espeak(NON_WAKE_TEXT, v) for v in VOICES] + [s for _, s in alsa_speech()]
    parts += [(noise("alsa", 16000 * 20, rng) * 3000).astype(np.int16), (noise("white", 16000 * 20, rng) * 1000).astype(np.int16)]
    return np.concatenate(parts)


@needs_espeak
@pytest.mark.parametrize("model", WAKE_MODELS)
def test_bundled_model_fires_once_on_its_phrase_in_noise(clip, model):
    c = clip(PHRASES[model], FIRING_VOICE[model], lead_s=1.0, trail_s=1.0, snr_db=20, noise_kind="white")
    detector = make_wakeword(WakeWordConfig(model=model))
    fired = detections(detector, c.samples)
    assert len(fired) == 1
    # it fires after the phrase has begun and within half a second of its end
    assert c.speech_start_s < fired[0] <= c.speech_end_s + 0.5


@needs_espeak
@pytest.mark.parametrize("model", WAKE_MODELS)
def test_no_false_accepts_on_two_minutes_of_other_speech_and_noise(non_wake_audio, model):
    assert len(non_wake_audio) > 16000 * 110
    detector = Detector(MicroWakeWordModel(model), WakeWordConfig(threshold=0.5))
    assert detections(detector, non_wake_audio) == []


@needs_espeak
def test_hey_jarvis_does_not_fire_on_male_espeak_voices(clip):
    """Recorded honestly: the bundled hey_jarvis model ignores espeak-ng's male voices."""
    c = clip("hey jarvis", "en-us", lead_s=1.0, trail_s=1.0, snr_db=None)
    model = MicroWakeWordModel("hey_jarvis")
    assert max(model.predict(f) for f in frames_of(c.samples)) < 0.5


@needs_espeak
@needs_oww
@pytest.mark.parametrize("voice", ["en-us", "en-gb"])
def test_bundled_hey_jarvis_hears_male_voices_with_openwakeword_beside_it(clip, voice):
    """The bundled hey_jarvis runs openWakeWord's model of the phrase beside microWakeWord's, which
    ignores these voices (above): together they fire, once, on the phrase."""
    c = clip("hey jarvis", voice, lead_s=1.0, trail_s=1.0, snr_db=20, noise_kind="white")
    detector = make_wakeword(WakeWordConfig(model="hey_jarvis"))
    assert isinstance(detector.model, EitherModel) and detector.name == "hey_jarvis"
    fired = detections(detector, c.samples)
    assert len(fired) == 1 and c.speech_start_s < fired[0] <= c.speech_end_s + 0.5


@needs_espeak
@needs_oww
def test_bundled_hey_jarvis_has_no_false_accepts_on_other_speech(non_wake_audio):
    """Both models at the tuned threshold, on the two minutes of other speech and noise."""
    detector = make_wakeword(WakeWordConfig(model="hey_jarvis"))
    assert detections(detector, non_wake_audio) == []


@needs_espeak
def test_refractory_period_and_rearming(clip):
    one = clip("okay nabu", "en-us", lead_s=0.3, trail_s=0.7, snr_db=None).samples
    twice = np.concatenate([one, one])  # two wake words about 1.7 s apart
    assert len(detections(Detector(MicroWakeWordModel("okay_nabu"), WakeWordConfig(refractory_s=0.5)), twice)) == 2
    assert len(detections(Detector(MicroWakeWordModel("okay_nabu"), WakeWordConfig(refractory_s=3.0)), twice)) == 1
    # with no refractory period a single wake word still fires once (the score must fall first)
    assert len(detections(Detector(MicroWakeWordModel("okay_nabu"), WakeWordConfig(refractory_s=0.0)), one)) == 1


@needs_espeak
def test_gate_while_speaking(clip):
    """Gated: off without barge-in; with barge-in only a score above barge_in_threshold fires."""
    c = clip("okay nabu", "en-us", lead_s=0.5, trail_s=1.0, snr_db=20, noise_kind="white")
    base = WakeWordConfig(model="okay_nabu", threshold=0.5)
    off = Detector(MicroWakeWordModel("okay_nabu"), dataclasses.replace(base, barge_in=False))
    off.gate(True)
    assert detections(off, c.samples) == []
    strict = Detector(MicroWakeWordModel("okay_nabu"), dataclasses.replace(base, barge_in_threshold=1.0))
    strict.gate(True)
    assert detections(strict, c.samples) == []  # scores stay below 1.0
    barge = Detector(MicroWakeWordModel("okay_nabu"), dataclasses.replace(base, barge_in_threshold=0.8))
    barge.gate(True)
    assert len(detections(barge, c.samples)) == 1


@needs_espeak
def test_gate_tail_outlasts_the_gate(clip):
    c = clip("okay nabu", "en-us", lead_s=0.2, trail_s=1.0, snr_db=None)
    config = WakeWordConfig(barge_in=False, gate_tail_s=5.0)
    detector = Detector(MicroWakeWordModel("okay_nabu"), config)
    detector.gate(True)
    detector.gate(False)  # speech just ended: the room may still echo it
    assert detector.gated and detections(detector, c.samples) == []
    later = Detector(MicroWakeWordModel("okay_nabu"), dataclasses.replace(config, gate_tail_s=0.0))
    later.gate(True)
    later.gate(False)
    assert not later.gated and len(detections(later, c.samples)) == 1


def _oww_model(name: str) -> Path:
    import pyopen_wakeword

    return Path(pyopen_wakeword.__file__).parent / "models" / f"{name}.tflite"


@needs_espeak
@needs_oww
def test_user_openwakeword_tflite_model(clip, tmp_path):
    user_file = tmp_path / "my_hey_jarvis.tflite"
    user_file.write_bytes(_oww_model("hey_jarvis").read_bytes())
    detector = make_wakeword(WakeWordConfig(model=str(user_file)))
    assert detector.name == "my_hey_jarvis" and isinstance(detector.model, OpenWakeWordModel)
    c = clip("hey jarvis", "en-gb", lead_s=1.0, trail_s=1.0, snr_db=20, noise_kind="white")
    assert len(detections(detector, c.samples)) == 1
    other = clip("please turn off the radio", "en-gb", lead_s=1.0, trail_s=1.0, snr_db=20, noise_kind="white")
    detector.model.reset()
    assert detections(detector, other.samples) == []


def _tiny_oww_onnx(path: Path, windows: int = 16, width: int = 96) -> None:
    """A tiny ONNX classifier with openWakeWord's interface: sigmoid of the mean embedding."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0, axes=[1, 2]),
            helper.make_node("Sigmoid", ["m"], ["p"]),
            helper.make_node("Unsqueeze", ["p", "one"], ["y"]),
        ],
        "tiny_oww",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, windows, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor("one", TensorProto.INT64, [1], [1])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


@needs_oww
def test_user_openwakeword_onnx_model_runs_on_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "tiny.onnx"
    _tiny_oww_onnx(path)
    model = load_wakeword(str(path))
    _, speech = alsa_speech()[0]
    scores = [model.predict(f) for f in frames_of(np.concatenate([speech, speech]))]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(set(scores)) > 10  # the score follows the audio
    bad = tmp_path / "bad.onnx"
    _tiny_oww_onnx(bad, width=32)
    with pytest.raises(AssistantError, match="not an openWakeWord model"):
        load_wakeword(str(bad))
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(AssistantError, match="cannot load ONNX model"):
        load_wakeword(str(tmp_path / "junk.onnx"))


def test_bad_model_names_and_files(tmp_path):
    for model, words in [
        ("okay_google", "unknown wake word model 'okay_google'"),
        (str(tmp_path / "missing.tflite"), "wake word model not found"),
    ]:
        with pytest.raises(AssistantError, match=words):
            load_wakeword(model)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(AssistantError, match=r"must be a \.tflite or \.onnx"):
        load_wakeword(str(tmp_path / "x.txt"))


def test_each_bundled_model_has_its_tuned_threshold_unless_one_is_set():
    from assistant.audio.wakeword import DEFAULT_THRESHOLD, TUNED_THRESHOLDS, threshold_for

    assert set(TUNED_THRESHOLDS) == set(WAKE_MODELS)
    for model in WAKE_MODELS:
        assert threshold_for(WakeWordConfig(model=model)) == TUNED_THRESHOLDS[model]
        assert threshold_for(WakeWordConfig(model=model, threshold=0.7)) == 0.7
    assert threshold_for(WakeWordConfig(model="/some/own_model.onnx")) == DEFAULT_THRESHOLD
    detector = Detector(MicroWakeWordModel("alexa"), WakeWordConfig(model="alexa"))
    assert detector.threshold == TUNED_THRESHOLDS["alexa"]
