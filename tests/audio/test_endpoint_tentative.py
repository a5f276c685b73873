"""The tentative end: while the end silence runs, the endpointer says how long the utterance will be.

The service marks it on the live audio so the engine can prefill up to it during the silence; it must be the
exact length of the ``Utterance`` that follows when no speech resumes, and nothing while speech goes on.
"""

from __future__ import annotations

import pytest

from assistant.audio.endpoint import TAIL_S, Endpointer, SpeechStart, Utterance
from assistant.audio.vad import SileroVad, WebRtcVad
from assistant.config.schema import VadConfig

from .conftest import frames_of, needs_espeak, needs_silero

COMMAND = "turn on the light in the kitchen please"


def trace(samples, config, vad):
    """Per frame after the start of speech: (time, tentative keep); and the Utterance."""
    ep = Endpointer(config, vad)
    ep.start(0.0)
    marks, utterance, speaking = [], None, False
    for f in frames_of(samples, 160):
        event = ep.feed(f)
        speaking = speaking or isinstance(event, SpeechStart)
        if isinstance(event, Utterance):
            utterance = event
            break
        if speaking:
            marks.append((ep.t, ep.tentative_keep(), len(ep.speech()) and sum(len(x) for x in ep.speech())))
    return marks, utterance


@needs_espeak
@pytest.mark.parametrize("vad_name", ["webrtc", pytest.param("silero", marks=needs_silero)])
def test_the_tentative_keep_is_the_utterance_length_through_the_end_silence(clip, vad_name):
    c = clip(COMMAND, "en-us", lead_s=1.0, trail_s=1.5, snr_db=20, noise_kind="pink")
    config = VadConfig(engine=vad_name)
    marks, utt = trace(c.samples, config, WebRtcVad(2) if vad_name == "webrtc" else SileroVad())
    assert utt is not None and not utt.capped
    run = []  # the frames up to the Utterance that carry a tentative end (the end silence, once the VAD calls it)
    for t, keep, _ in reversed(marks):
        if keep is None:
            break
        run.append((t, keep))
    assert all(keep == len(utt.samples) for _, keep in run)
    # it is known for most of the end silence: the engine has that long to prefill up to it
    assert len(run) * 0.01 >= 0.5 * config.end_silence_ms / 1000, (len(run), utt.end_t)
    # during the words themselves there is no tentative end (short gaps between words may have one)
    speaking = [keep for t, keep, _ in marks if c.speech_start_s + 0.3 < t < c.speech_end_s - 0.3]
    assert speaking.count(None) >= 0.5 * len(speaking)
    # a tentative keep reaches at most the 0.2 s tail past the audio the endpointer holds (that tail is on its way)
    assert all(keep is None or keep <= held + round(TAIL_S * 16000) for _, keep, held in marks)


def test_no_tentative_end_when_not_listening():
    ep = Endpointer(VadConfig(), WebRtcVad(2))
    assert ep.tentative_keep() is None
