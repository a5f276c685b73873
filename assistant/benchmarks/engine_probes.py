"""Measurements behind ``assistant bench engine``: each probe runs the real engine pieces and returns figures.

Every probe takes a loaded ``GemmaModel`` (or its parts) and returns plain numbers; the command in
``engine.py`` turns them into a report. Nothing here asserts a speed.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.engine.decoding.backend import DecoderBackend
from assistant.engine.decoding.decode import Decoder, KvCache, Prefill, decode_tokens
from assistant.engine.decoding.loopcost import LOOPS
from assistant.engine.decoding.prompt import template_messages
from assistant.engine.decoding.timings import Timings, now
from assistant.engine.graphs.onnxfile import read_onnx_info
from assistant.engine.model import GemmaModel
from assistant.protocols import Message, ToolCall

COMMAND = "turn on the kitchen light"
SYSTEM_SENTENCE = (
    "You control the lights, blinds, heating and media players of this home through the tools given to you. "
)

# Ten typical commands and the tool call each should become.
COMMANDS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("turn on the kitchen light", "set_light", {"entity": "light.kitchen", "on": True}),
    ("switch off the bedroom lamp", "set_light", {"entity": "light.bedroom", "on": False}),
    ("dim the living room to thirty percent", "set_light", {"entity": "light.living_room", "brightness": 30}),
    ("set the heating to twenty one degrees", "set_climate", {"entity": "climate.home", "temperature": 21}),
    ("close the blinds in the office", "set_cover", {"entity": "cover.office", "position": 0}),
    ("open the garage door", "set_cover", {"entity": "cover.garage", "position": 100}),
    ("play music in the kitchen", "media", {"entity": "media_player.kitchen", "action": "play"}),
    ("pause the music", "media", {"entity": "media_player.kitchen", "action": "pause"}),
    ("turn the fan on", "set_switch", {"entity": "switch.fan", "on": True}),
    ("make the hallway light red", "set_light", {"entity": "light.hallway", "color": "red"}),
)


def greedy(_ids: Sequence[int], logits: np.ndarray) -> int:
    return int(np.argmax(logits))


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def decoder_weight_bytes(graph: Path) -> int:
    """Bytes of external initializers of ``graph``: every weight a decode step reads once (LM head included)."""
    spans = {(ref.location, ref.offset): ref.length for ref in read_onnx_info(graph).external}
    return sum(spans.values())


def kv_bytes(cache: KvCache) -> int:
    """Bytes of past keys/values a decode step reads at this cache length."""
    return sum(a.nbytes for a in cache.arrays.values())


def prompt(model: GemmaModel, messages: Sequence[Message]) -> Prefill:
    return model.prepare(messages, (), False, Timings())


def _messages(command: str = COMMAND, system: str = "") -> list[Message]:
    head = [Message(role="system", text=system)] if system else []
    return [*head, Message(role="user", text=command)]


def system_prompt(model: GemmaModel, tokens: int) -> str:
    """A system prompt of at least ``tokens`` tokens with the model's tokenizer."""
    text = SYSTEM_SENTENCE
    while len(model.tokenizer(text, add_special_tokens=False)["input_ids"]) < tokens:
        text += SYSTEM_SENTENCE
    return text


@dataclass
class DecodeRun:
    step_s: list[float]
    context: int
    kv_bytes: int


def decode_steps(model: GemmaModel, decoder: DecoderBackend, steps: int, bare: list[float] | None = None) -> DecodeRun:
    """Greedy decode of ``steps`` tokens after a short prompt (no stop ids), through the engine loop.

    With ``bare``, one bare step (``bare_step``) runs between engine steps, outside their timing, so
    both see the same machine load; its times are appended to ``bare``.
    """
    pre = prompt(model, _messages())
    timings = Timings()
    context = len(pre.ids) + steps
    floor = BareStep(model.onnx_decoder, context) if bare is not None else None
    for _token in decode_tokens(decoder, pre, greedy, (), steps + 1, timings):
        if floor is not None and bare is not None:
            bare.append(floor())
    kv = kv_bytes(_cache_at(decoder, context)) if isinstance(decoder, Decoder) else 0
    return DecodeRun(list(timings.token_s), context, kv)


def _cache_at(decoder: Decoder, length: int) -> KvCache:
    empty = decoder.empty_cache()
    arrays = {k: np.zeros((*v.shape[:2], length, v.shape[3]), v.dtype) for k, v in empty.arrays.items()}
    return KvCache(arrays, length)


class BareStep:
    """``embed_tokens.run`` + ``decoder.run`` alone with feeds prepared once: the floor of a decode step."""

    def __init__(self, decoder: Decoder, context: int) -> None:
        cache = _cache_at(decoder, context - 1)
        self.ids = {"input_ids": np.array([[5]], dtype=np.int64)}
        self.embed = decoder.embed_graph.session
        embeds, ple = self.embed.run(["inputs_embeds", "per_layer_inputs"], self.ids)
        self.feeds: dict[str, Any] = {"inputs_embeds": embeds, "per_layer_inputs": ple,
                                      "attention_mask": np.ones((1, context), np.int64),
                                      "position_ids": np.array([[context - 1]], np.int64), **cache.arrays}
        if decoder.has_keep:
            self.feeds["num_logits_to_keep"] = np.array(1, np.int64)
        self.session = decoder.graph.session

    def __call__(self) -> float:
        start = now()
        self.embed.run(["inputs_embeds", "per_layer_inputs"], self.ids)
        self.session.run(None, self.feeds)
        return now() - start


def ttft_s(model: GemmaModel, messages: Sequence[Message], cache: KvCache | None = None) -> tuple[float, Timings]:
    """Prompt rendering + cache restore + prefill + first token; the timings say how many tokens were prefilled."""
    timings = Timings()
    start = now()
    pre = model.prepare(messages, (), False, timings)
    gen = decode_tokens(model.decoder, pre, greedy, (), 1, timings, cache.copy() if cache else None)
    next(gen, None)
    return now() - start, timings


def prefix_cache(model: GemmaModel, system: str) -> KvCache:
    """KV of the token prefix two different commands share under ``system`` (the cached system prompt)."""
    a = prompt(model, _messages(COMMAND, system)).ids
    b = prompt(model, _messages("what is the weather like", system)).ids
    shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    embeds, ple = model.decoder.embed(a[:shared])
    _, cache = model.decoder.forward(embeds, ple, model.decoder.empty_cache())
    return cache


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    """A speech-like test signal: a few harmonics with a wandering pitch, plus noise (int16-range float)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / 16000
    wave = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    return (0.2 * wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def eos_to_first_token(model: GemmaModel, seconds: float) -> Timings:
    """One spoken command of ``seconds`` (audio given whole at end of speech) to its first token."""
    timings = Timings()
    pre = model.prepare([Message(role="user", audio=speech(seconds))], (), False, timings)
    next(decode_tokens(model.decoder, pre, greedy, (), 1, timings), None)
    return timings


def eos_total_s(t: Timings) -> float:
    return t.prompt_s + t.features_s + t.encoder_s + t.first_token_s


def ttft_stream_s(model: GemmaModel, messages: Sequence[Message]) -> tuple[float, Timings]:
    """Wall time of ``model.stream`` to its first token (prefix cache as configured), and its timings."""
    start = now()
    gen = model.stream(messages, options=model.options(max_new_tokens=1))
    for _event in gen:
        pass
    return now() - start, gen.timings


def streamed_eos_to_first_token(model: GemmaModel, seconds: float, block_s: float = 0.1) -> tuple[float, int]:
    """A spoken command fed to ``begin_audio_turn`` in ``block_s`` blocks; seconds from end of speech
    (``finish``) to its first token, and the audio rows prefilled before it."""
    clip = speech(seconds)
    turn = model.begin_audio_turn([], options=model.options(max_new_tokens=1))
    block = int(16000 * block_s)
    for i in range(0, clip.size, block):
        turn.feed(clip[i : i + block])
    start = now()
    for _event in turn.finish():
        pass
    return now() - start, turn.prefilled_rows


def loop_costs(model: GemmaModel, steps: int, rounds: int = 2) -> dict[str, float]:
    """Median ms per greedy step for each way of looping in ``loopcost.LOOPS``, rounds interleaved; and
    ``in_step``: the median, over the engine loop's steps, of each step's time outside its decoder
    ``session.run`` (the same step measured from both sides, so other jobs' load cancels out)."""
    dec = model.onnx_decoder
    logits, cache = dec.forward(*dec.embed(prompt(model, _messages()).ids), dec.empty_cache())
    first = int(np.argmax(logits[-1]))
    times: dict[str, list[float]] = {name: [] for name in LOOPS}
    outside: list[float] = []
    for _ in range(rounds):
        for name, loop in LOOPS.items():
            if name != "plain":
                times[name].extend(loop(dec, cache, first, steps).step_s)
                continue
            with _timed_runs(dec.graph) as inner:
                run = loop(dec, cache, first, steps)
            times[name].extend(run.step_s)
            outside.extend(total - spent for total, spent in zip(run.step_s, inner, strict=True))
    return {**{name: median_ms(values) for name, values in times.items()}, "in_step": median_ms(outside)}


class _TimedSession:
    """A session whose ``run`` calls are timed one by one (``seconds``); everything else passes through."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.seconds: list[float] = []

    def run(self, *args: Any, **kwargs: Any) -> Any:
        start = now()
        try:
            return self.session.run(*args, **kwargs)
        finally:
            self.seconds.append(now() - start)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


@contextmanager
def _timed_runs(graph: Any) -> Iterator[list[float]]:
    """While open, ``graph``'s session runs are timed; yields their seconds, in call order."""
    timed = _TimedSession(graph.session)
    graph.session = timed
    try:
        yield timed.seconds
    finally:
        graph.session = timed.session


def free_tokens(model: GemmaModel) -> list[int]:
    """Tokens the model decodes freely per typical command under the tool-call grammar (its tokenizer)."""
    from assistant.benchmarks.grammar import command_costs

    return [c.free for c in command_costs(model.tokenizer)]


def unconstrained_tokens(model: GemmaModel) -> list[int]:
    """Tokens of each typical command's whole tool call plus the stop token, as free decoding would produce them."""
    tok = model.tokenizer
    counts = []
    for text, name, args in COMMANDS:
        user = [Message(role="user", text=text)]
        done = [*user, Message(role="model", tool_calls=(ToolCall(name=name, arguments=args),))]
        before = tok.apply_chat_template(template_messages(user), add_generation_prompt=True, tokenize=False)
        after = tok.apply_chat_template(template_messages(done), add_generation_prompt=False, tokenize=False)
        if not after.startswith(before):
            raise ValueError("the chat template does not render a tool call as a continuation of the prompt")
        counts.append(len(tok(after[len(before) :], add_special_tokens=False)["input_ids"]))
    return counts


class BusyCore:
    """A competing process that keeps one core busy while the block runs (ended by its own pid)."""

    def __enter__(self) -> BusyCore:
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def ab_compare(model: GemmaModel, decoders: dict[str, Decoder], steps: int, prefill_tokens: int = 64,
               ) -> dict[str, tuple[float, float]]:
    """Prefill and decode speed of several decoder graphs, interleaved so they share the machine's load.

    Returns ``{name: (prefill tok/s, decode tok/s)}`` (medians over two prefills and ``steps`` steps).
    """
    pre = prompt(model, _messages(system=system_prompt(model, prefill_tokens)))
    first = next(iter(decoders.values()))
    caches = {name: first.empty_cache() for name in decoders}
    prefill: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(2):
        for name, dec in decoders.items():
            start = now()
            _, caches[name] = dec.forward(pre.embeds, pre.ple, dec.empty_cache())
            prefill[name].append(now() - start)
    embeds, ple = first.embed([5])
    step: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(steps):
        for name, dec in decoders.items():
            start = now()
            _, caches[name] = dec.forward(embeds, ple, caches[name])
            step[name].append(now() - start)
    n = len(pre.ids)
    return {name: (n / statistics.median(prefill[name]), 1 / statistics.median(step[name])) for name in decoders}
