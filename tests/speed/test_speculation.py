"""The step run ahead in the end silence: handed over at the close only if the clip ends there; else untouched."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config.schema import ModelConfig
from assistant.engine.audio import liveturn
from assistant.engine.audio.speculation import Speculation
from assistant.engine.decoding.sampling import SamplingParams
from assistant.engine.grammar.constraint import START, ToolCallConstraint
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.engine.model import GemmaModel
from assistant.protocols import LiveAudio, Message, ToolCall

from .test_audio_turn import SYSTEM, speech
from .test_live_pause import TAIL, listener

pytestmark = pytest.mark.slow
CFG = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")


@pytest.fixture(scope="module")
def audio_model(tiny_model_dir) -> GemmaModel:
    return GemmaModel.load(tiny_model_dir("audio"), CFG)


def batch(model: GemmaModel, clip: np.ndarray, opts) -> tuple[list[int], list]:
    gen = model.stream([SYSTEM, Message(role="user", audio=clip)], (), opts)
    events = list(gen)
    return gen.token_ids, events


def caught_up(model: GemmaModel, clip: np.ndarray, opts):
    """An audio turn fed ``clip`` and prefilled up to its end, as the live turn leaves it at a pause."""
    turn = model.begin_audio_turn([SYSTEM], (), opts)
    turn.feed(clip)
    turn.catch_up(0.0)
    return turn


def test_the_step_is_made_ahead_and_handed_over_when_the_clip_ends_there(audio_model) -> None:
    clip = np.concatenate([speech(1.6, seed=3), np.zeros(TAIL, dtype=np.int16)])
    opts = audio_model.options(max_new_tokens=8)
    want, events = batch(audio_model, clip, opts)
    live = LiveAudio()
    live.pause(len(clip))
    ahead = Speculation(caught_up(audio_model, clip, opts), len(clip))
    ahead.run(live)
    assert ahead.done and ahead.generation.token_ids == want  # the whole step, before the close
    live.close(len(clip))
    assert ahead.fits(live)
    gen = ahead.adopt()
    assert list(gen) == events and gen.token_ids == want and gen.ahead_s > 0


def test_a_close_at_another_length_or_resumed_speech_does_not_fit(audio_model) -> None:
    clip = speech(1.2, seed=4)
    opts = audio_model.options(max_new_tokens=4)
    live = LiveAudio()
    live.pause(len(clip))
    ahead = Speculation(caught_up(audio_model, clip, opts), len(clip))
    live.pause(None)  # speech resumed before a single token: nothing is drawn
    ahead.run(live)
    assert not ahead.done and ahead.generation.token_ids == []
    live.close(len(clip) + 800)
    assert not ahead.fits(live)
    ahead.drop()


def test_a_dropped_run_leaves_the_turn_and_its_grammar_as_they_were(audio_model, grammar) -> None:
    """The run ahead takes a whole call under a grammar and is dropped; the turn then hears more speech
    and gives exactly the batch call of the longer clip (a shared grammar state would start mid-call)."""
    first, second = speech(1.0, seed=5), speech(0.8, seed=6)
    gap = np.zeros(4800, dtype=np.int16)
    tokens = TokenGrammar(grammar, audio_model.tokenizer)

    def options():
        constraint = ToolCallConstraint.for_tokens(tokens, audio_model.generation_spec.eos_token_ids)
        return audio_model.options(max_new_tokens=60, constraint=constraint,
                                   sampling=SamplingParams(sample=True, seed=11))

    whole = np.concatenate([first, gap, second])
    want, events = batch(audio_model, whole, options())
    assert any(isinstance(e, ToolCall) for e in events)
    opts = options()
    turn = caught_up(audio_model, first, opts)
    live = LiveAudio()
    live.pause(len(first))
    ahead = Speculation(turn, len(first))
    ahead.run(live)
    assert ahead.done and any(isinstance(e, ToolCall) for e in ahead.made)
    assert opts.constraint is not None  # the turn's own grammar state never moved
    assert opts.constraint.phase == START and opts.constraint.state is tokens.root
    ahead.drop()
    turn.feed(np.concatenate([gap, second]))
    gen = turn.finish()
    assert list(gen) == events and gen.token_ids == want


@pytest.mark.parametrize("speculate", [True, False])
def test_stream_live_hands_over_the_step_made_in_the_end_silence(audio_model, monkeypatch, speculate: bool) -> None:
    """Through the live turn: with the run ahead, the tokens are all made when ``stream`` returns at the close,
    before a single event is read; without it, none are."""
    monkeypatch.setattr(liveturn, "SPECULATE", speculate)
    words = speech(2.0, seed=7)
    keep = len(words) + TAIL
    audio = np.concatenate([words, np.zeros(11200, dtype=words.dtype)])
    opts = audio_model.options(max_new_tokens=8)
    want, events = batch(audio_model, audio[:keep], opts)
    live = LiveAudio()
    thread = listener(live, [("audio", audio[: len(words) + 1600]), ("pause", keep),
                         ("wait", 2.0),  # the end silence: far longer than the tiny model's whole step
                         ("audio", audio[len(words) + 1600 :]), ("close", keep)])
    try:
        gen = audio_model.stream([SYSTEM, Message(role="user", live=live)], (), opts)
    finally:
        thread.join()
    assert gen.token_ids == (want if speculate else [])
    assert list(gen) == events and gen.token_ids == want
    assert (gen.ahead_s > 0) == speculate


@pytest.mark.parametrize("speculate", [True, False])
def test_the_service_marks_a_step_made_ahead_at_the_close_not_before(audio_model, monkeypatch, speculate: bool) -> None:
    """``TimedEngine``: stages computed in the end silence are ready at the close, all at that one moment;
    a step started at the close marks them one after another, from the close on."""
    from assistant.service.adapters import TimedEngine, model_start

    monkeypatch.setattr(liveturn, "SPECULATE", speculate)
    words = speech(1.2, seed=9)
    keep = len(words) + TAIL
    audio = np.concatenate([words, np.zeros(11200, dtype=words.dtype)])
    engine = TimedEngine(model_start(audio_model), audio_model)
    marks: dict[str, float] = {}
    engine.set_timing_sink(lambda stage, t: marks.setdefault(stage, t))
    live = LiveAudio()
    thread = listener(live, [("audio", audio[: len(words) + 1600]), ("pause", keep), ("wait", 2.0),
                         ("audio", audio[len(words) + 1600 :]), ("close", keep)])
    try:
        events = list(engine.generate([SYSTEM, Message(role="user", live=live)], ()))
    finally:
        thread.join()
    assert events and {"prefill", "first_token"} <= set(marks)
    assert min(marks.values()) >= live.closed_at
    assert (len(set(marks.values())) == 1) == speculate
