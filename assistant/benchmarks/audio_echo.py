"""Echo: the assistant's own replies in its microphone must neither wake it nor make a turn.

The configured TTS speaks a set of replies (some start with "Okay", as replies do); each reply
reaches the microphone through a synthetic room at a realistic level relative to the room's
talkers (0 and +6 dB: a speaker next to the microphone is as loud as the user, or louder),
over the evaluation's noises (not babble). The service's sequence is run on it: idle before the reply; while
it plays the detector is gated (only a score over ``barge_in_threshold`` barges in) and the
endpointer is not fed; when playback ends the gate is lifted (with its ``gate_tail_s``) and
follow-up listening starts; the reply's last 100 ms still reach the microphone after that (the
output's latency) with the room's reverberation. A *self-wake* is any detection; a *self-turn*
any speech start in the follow-up window (``service.follow_up_s``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from assistant.audio import scenes
from assistant.audio.endpoint import Endpointer, SpeechStart, Utterance
from assistant.audio.factory import make_tts, make_vad, make_wakeword
from assistant.audio.resample import resample
from assistant.config import Config
from assistant.config.schema import WAKE_MODELS
from assistant.protocols import SAMPLE_RATE

REPLIES = (
    "Okay, the kitchen light is on.", "It is twenty one degrees in the living room.", "Okay, I closed the garage door.",
    "The front door is locked.", "Sure, playing music in the bathroom.", "Okay. Anything else?",
    "The bedroom heating is set to twenty degrees.", "I could not reach the attic fan, sorry.",
)
LATENCY_S = 0.1
ECHO_DB = (0.0, 6.0)
SR = SAMPLE_RATE
FRAME = SR // 100


def echo_figures(config: Config, snrs: tuple[int, ...], progress: Any, quick: bool = False) -> dict[str, Any]:
    """Self-wakes and self-turns per bundled wake word over replies x noises x SNRs x echo levels."""
    tts = make_tts(config.tts)
    replies = []
    for text in REPLIES[:2] if quick else REPLIES:
        chunks = list(tts.synthesize(text))
        audio = np.concatenate([c.samples for c in chunks])
        replies.append(resample(audio, chunks[0].sample_rate).astype(np.float64))
    rng = np.random.default_rng(5)
    kinds = [k for k in scenes.NOISE_KINDS if k != "babble"]  # babble would need more synthesis; the others cover it
    cases = [(r, kind, snr, level) for r in range(len(replies)) for kind in kinds for snr in snrs for level in ECHO_DB]
    progress(f"echo: {len(cases)} replies in the microphone, {len(WAKE_MODELS)} wake words")
    wakes: dict[str, int] = dict.fromkeys(WAKE_MODELS, 0)
    turns = 0
    seconds = 0.0
    for r, kind, snr, level in cases:
        reply = replies[r]
        lead, follow = int(2.0 * SR), int(min(2.0, config.service.follow_up_s) * SR)
        direct = np.zeros(lead + len(reply) + follow)
        direct[lead : lead + len(reply)] = reply
        wet = scenes.reverberate(direct, scenes.impulse_response(float(rng.choice([0.3, 0.6])), rng))
        talker_rms = float(np.sqrt(np.mean(reply**2))) / 10 ** (level / 20)  # the user's level at the microphone
        noise = scenes.make_noise(kind, len(direct), rng) * talker_rms / 10 ** (snr / 20)
        mix = np.clip(wet + noise, -32768, 32767).astype(np.int16)
        seconds += len(reply) / SR
        done = (lead + len(reply) - int(LATENCY_S * SR)) // FRAME  # the player reports the end this early
        for model in WAKE_MODELS:
            wakes[model] += _self_wakes(mix, lead // FRAME, done, config, model)
        turns += _self_turns(mix, lead // FRAME, done, config)
    return {"replies": len(cases), "reply_minutes": round(seconds / 60, 1), "self_wakes": sum(wakes.values()),
            "self_wakes_per_model": wakes, "self_turns": turns}


def _frames(mix: np.ndarray) -> list[np.ndarray]:
    return [mix[i * FRAME : (i + 1) * FRAME] for i in range(len(mix) // FRAME)]


def _self_wakes(mix: np.ndarray, speaking: int, done: int, config: Config, model: str) -> int:
    """Detections from the start of the reply on (gated while it plays, then the gate's tail, then open)."""
    detector = make_wakeword(dataclasses.replace(config.wakeword, model=model))
    fired = 0
    for i, f in enumerate(_frames(mix)):
        if i == speaking:
            detector.gate(True)
        if i == done:
            detector.gate(False)
        fired += detector.detect(f) and i >= speaking
    return fired


def _self_turns(mix: np.ndarray, speaking: int, done: int, config: Config) -> int:
    """Speech starts in the follow-up window (the endpointer is fed while idle, not while the reply plays)."""
    endpointer = Endpointer(config.vad, make_vad(config.vad))
    starts = 0
    for i, f in enumerate(_frames(mix)):
        if i == done:
            endpointer.start(i * FRAME / SR)
        if i < speaking or i >= done:
            event = endpointer.feed(f)
            starts += isinstance(event, SpeechStart | Utterance)
    return starts
