"""The live turn during the end silence: prefilled up to the tentative end, then waiting; same result as batch."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.audio import liveturn
from assistant.engine.audio.liveturn import _split
from assistant.engine.model import GemmaModel
from assistant.protocols import LiveAudio, Message

from .test_audio_turn import SYSTEM, speech

pytestmark = pytest.mark.slow
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")
TAIL = 3200  # 0.2 s kept after the last word, as the endpointer keeps


@pytest.fixture(scope="module")
def model(tiny_model_dir) -> GemmaModel:
    return GemmaModel.load(tiny_model_dir("audio"), CFG)


def listener(live: LiveAudio, parts: list[tuple[str, object]], block: int = 800) -> threading.Thread:
    """Play a script: ("audio", samples) appended in blocks, ("pause", keep or None), ("wait", seconds),
    ("close", keep)."""

    def run() -> None:
        for kind, value in parts:
            if kind == "audio":
                samples = np.asarray(value)
                for i in range(0, len(samples), block):
                    live.append(samples[i : i + block])
                    time.sleep(0.01)
            elif kind == "pause":
                live.pause(value)  # type: ignore[arg-type]
            elif kind == "wait":
                time.sleep(float(value))  # type: ignore[arg-type]
            else:
                live.close(value)  # type: ignore[arg-type]

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_pause_prefills_up_to_the_tentative_end_and_gives_the_batch_result(model, monkeypatch) -> None:
    monkeypatch.setattr(liveturn, "SPECULATE", False)  # the pause alone (with it, a fork prefills the rest)
    words = speech(2.4, seed=7)
    keep = len(words) + TAIL
    audio = np.concatenate([words, np.zeros(11200, dtype=words.dtype)])  # 0.7 s of end silence
    batch = model.stream([SYSTEM, Message(role="user", audio=audio[:keep])], (), model.options(max_new_tokens=8))
    list(batch)
    live = LiveAudio()
    thread = listener(live, [("audio", audio[: len(words) + 1600]), ("pause", keep), ("audio", audio[len(words) + 1600 :]),
                             ("close", keep)])
    gen = model.stream([SYSTEM, Message(role="user", live=live)], (), model.options(max_new_tokens=8))
    thread.join()
    list(gen)
    assert gen.token_ids == batch.token_ids
    assert gen.timings.audio_tokens == batch.timings.audio_tokens
    # nearly every audio row of the utterance was in the KV cache before the close (the last may wait for it)
    assert gen.live_rows >= batch.timings.audio_tokens - 2


def test_speech_that_resumes_releases_the_held_audio(model) -> None:
    first, second = speech(1.2, seed=8), speech(1.0, seed=9)
    gap = np.zeros(4800, dtype=first.dtype)  # 0.3 s: shorter than the end silence
    audio = np.concatenate([first, gap, second])
    batch = model.stream([SYSTEM, Message(role="user", audio=audio)], (), model.options(max_new_tokens=8))
    list(batch)
    live = LiveAudio()
    thread = listener(live, [("audio", first), ("pause", len(first) + TAIL), ("audio", gap), ("pause", None),
                             ("audio", second), ("close", None)])
    gen = model.stream([SYSTEM, Message(role="user", live=live)], (), model.options(max_new_tokens=8))
    thread.join()
    list(gen)
    assert gen.token_ids == batch.token_ids and gen.timings.audio_tokens == batch.timings.audio_tokens


def test_split_cuts_blocks_after_a_number_of_samples() -> None:
    blocks = [np.arange(5), np.arange(5, 8), np.arange(8, 12)]
    first, rest = _split(blocks, 6)
    assert np.concatenate(first).tolist() == list(range(6)) and np.concatenate(rest).tolist() == list(range(6, 12))
    assert _split(blocks, None) == (blocks, [])
    first, rest = _split(blocks, 0)
    assert first == [] and len(rest) == 3
    first, rest = _split(blocks, 20)
    assert len(first) == 3 and rest == []


def test_pause_is_ignored_once_closed() -> None:
    live = LiveAudio()
    live.append(np.zeros(160, dtype=np.int16))
    live.pause(100)
    assert live.tentative == 100
    live.close(120)
    live.pause(None)
    assert live.tentative == 100 and live.keep == 120
