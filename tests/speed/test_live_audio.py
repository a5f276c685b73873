"""A turn whose audio is still arriving (``Message.live``): streamed by ``model.stream``, same result as batch."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.model import GemmaModel
from assistant.protocols import LiveAudio, Message

from .test_audio_turn import SYSTEM, speech

pytestmark = pytest.mark.slow
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")


@pytest.fixture(scope="module")
def model(tiny_model_dir) -> GemmaModel:
    return GemmaModel.load(tiny_model_dir("audio"), CFG)


def speak(live: LiveAudio, clip: np.ndarray, block: int = 1600, cancel: bool = False) -> threading.Thread:
    """The listener's side: append ``clip`` in blocks, a little slower than real time is not needed here."""

    def run() -> None:
        for i in range(0, len(clip), block):
            live.append(clip[i : i + block])
            time.sleep(0.002)
        live.cancel() if cancel else live.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_live_audio_is_streamed_and_gives_the_batch_result(model) -> None:
    clip = speech(2.6, seed=3)
    batch = model.stream([SYSTEM, Message(role="user", audio=clip)], (), model.options(max_new_tokens=8))
    list(batch)
    live = LiveAudio()
    thread = speak(live, clip)
    gen = model.stream([SYSTEM, Message(role="user", live=live)], (), model.options(max_new_tokens=8))
    thread.join()
    list(gen)
    assert gen.token_ids == batch.token_ids
    total = batch.timings.prompt_tokens + batch.timings.cached_tokens
    assert gen.timings.prompt_tokens + gen.timings.cached_tokens == total
    assert gen.timings.prompt_tokens < total - 25  # a second and more of audio rows were prefilled while speaking
    np.testing.assert_array_equal(live.samples(), clip)


def test_a_cancelled_live_turn_has_no_events(model) -> None:
    live = LiveAudio()
    thread = speak(live, speech(1.0), cancel=True)
    gen = model.stream([SYSTEM, Message(role="user", live=live)], (), model.options(max_new_tokens=8))
    thread.join()
    assert list(gen) == [] and gen.token_ids == []


def test_a_closed_live_clip_is_an_ordinary_clip(model) -> None:
    clip = speech(1.2, seed=4)
    live = LiveAudio()
    live.append(clip[:8000])
    live.append(clip[8000:])
    live.close()
    replay = model.stream([SYSTEM, Message(role="user", live=live)], (), model.options(max_new_tokens=6))
    batch = model.stream([SYSTEM, Message(role="user", audio=clip)], (), model.options(max_new_tokens=6))
    list(replay), list(batch)
    assert replay.token_ids == batch.token_ids and replay.timings.audio_tokens == batch.timings.audio_tokens


def test_catch_up_encodes_what_waits_only_past_the_threshold(model) -> None:
    clip = speech(1.6, seed=5)
    turn = model.begin_audio_turn([SYSTEM], (), model.options(max_new_tokens=4))  # every_s = 1.0
    turn.feed(clip[:4000])  # 0.25 s
    assert not turn.catch_up(0.3) and turn.prefilled_rows == 0
    turn.feed(clip[4000:6400])  # 0.4 s in all
    assert turn.catch_up(0.3) and turn.prefilled_rows > 0
    rows = turn.prefilled_rows
    assert not turn.catch_up(0.3)  # nothing new since
    turn.feed(clip[6400:])
    gen = turn.finish()
    list(gen)
    batch = model.stream([SYSTEM, Message(role="user", audio=clip)], (), model.options(max_new_tokens=4))
    list(batch)
    assert gen.token_ids == batch.token_ids and turn.prefilled_rows > rows


def test_closing_with_keep_drops_only_the_unread_audio_past_the_utterance() -> None:
    live = LiveAudio()
    for _ in range(5):
        live.append(np.ones(100, dtype=np.int16))
    reader = live.blocks()
    next(reader), next(reader)  # the engine has taken two blocks (200 samples)
    live.close(keep=250)
    assert len(live.samples()) == 250 and len(list(reader)) == 1  # the third block cut to 50, the rest dropped
    late = LiveAudio()
    for _ in range(3):
        late.append(np.ones(100, dtype=np.int16))
    taken = late.blocks()
    next(taken), next(taken), next(taken)
    late.close(keep=120)  # everything was read already: nothing can be taken back
    assert len(late.samples()) == 300


def test_audio_waiting_at_the_close_is_encoded_and_prefilled_once_by_finish(model) -> None:
    clip = speech(3.0, seed=5)
    batch = model.stream([SYSTEM, Message(role="user", audio=clip)], (), model.options(max_new_tokens=8))
    list(batch)
    live = LiveAudio()
    live.append(clip[:16000])
    gen_box: list = []

    def engine() -> None:  # the engine thread: takes the first second, then falls behind the speaker
        gen_box.append(model.stream([SYSTEM, Message(role="user", live=live)], (), model.options(max_new_tokens=8)))

    thread = threading.Thread(target=engine)
    thread.start()
    while live.backlog():
        time.sleep(0.01)
    for i in range(16000, len(clip), 1600):  # two more seconds arrive at once, then the end of speech
        live.append(clip[i : i + 1600])
    live.close()
    thread.join()
    gen = gen_box[0]
    list(gen)
    assert gen.token_ids == batch.token_ids
    assert gen.live_rows <= 25  # only the first second was prefilled step by step; the rest in one pass
    assert gen.timings.prompt_tokens > 2 * 25
