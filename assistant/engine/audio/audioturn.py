"""Streaming audio: encode and prefill while the user is still speaking.

    turn = model.begin_audio_turn(messages, tools)   # the conversation before this utterance
    for block in microphone: turn.feed(block)        # int16 or float samples, 16 kHz
    gen = turn.finish()                              # a Generation, as model.stream would give
    for event in gen: ...

Why it is exact: the audio encoder's attention is chunked and causal (``attention_context_right = 0``)
and its convolutions look back only, so an audio row is final as soon as the audio under it has
arrived; the decoder is causal too, so the KV state of the prompt up to audio row k is final once
row k is. ``feed`` encodes, every ``every_s`` seconds, the audio that arrived since the last time
and prefills the rows that became final; ``finish`` encodes only the audio since the last ``feed``
encoding, and prefills only the rest: the last rows, the end of the turn and the generation prompt.
So the work after the end of speech does not grow with the utterance.

The encoding is incremental when the model's encoder could be split into stages
(``model.audio_stages``, see ``audiostream.py``: the rows equal the whole-clip encoding, which the
tests check on the tiny models; by hand they were bit-identical on E2B q4). Otherwise each ``feed`` re-encodes
the clip so far and holds back the last ``HOLD`` rows, and ``finish`` encodes the whole clip once
more, checks the rows already prefilled are unchanged (else it prefills from scratch, so the result
is always the batch result) and prefills the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from assistant.engine.audio.audiostream import IncrementalEncoder
from assistant.engine.audio.features import SAMPLE_RATE, audio_token_count, to_float
from assistant.engine.audio.turnmodel import TurnModel
from assistant.engine.decoding.decode import Array, KvCache, Prefill
from assistant.engine.decoding.timings import Timings, now
from assistant.engine.generation import Generation, GenerationOptions
from assistant.protocols import Message

HOLD = 2  # audio rows kept back from the prefill until the next encoding (only the last one can change)
SAME_ROWS_ATOL = 1e-4


class AudioTurn:
    """One spoken user turn, prefilled as it arrives. ``prefilled_rows``: audio rows already in the KV cache."""

    def __init__(self, model: TurnModel, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]],
                 options: GenerationOptions | None = None, text: str = "", every_s: float = 1.0) -> None:
        self.model = model
        self.messages = list(messages)
        self.tools = list(tools)
        self.options = options or model.options()
        self.text = text
        self.every = max(1, int(every_s * SAMPLE_RATE))
        self._chunks: list[np.ndarray] = []
        self._samples = 0
        self._encoded_at = 0
        self._rows: Array | None = None  # the audio rows already prefilled
        self._cache: KvCache | None = None
        self._head: list[int] = []
        self.encodings = 0
        self.enabled = model.has_audio and all(m.audio is None for m in self.messages)
        stages = model.audio_stages if self.enabled else None
        self._encoder = None if stages is None or model.features is None else IncrementalEncoder(
            stages, model.features, model.processor_spec.audio_seq_length)
        self._encoded: list[Array] = []  # rows from the incremental encoder, in order (all final)

    def fork(self) -> AudioTurn:
        """A copy to finish without changing this turn (the KV cache and rows are values; the audio lists,
        the encoder's state and a tool-call constraint are copied)."""
        twin = copy.copy(self)
        twin._chunks = list(self._chunks)
        twin._encoded = list(self._encoded)
        twin._encoder = None if self._encoder is None else self._encoder.fork()
        if self.options.constraint is not None:
            twin.options = replace(self.options, constraint=self.options.constraint.fresh())
        return twin

    @property
    def prefilled_rows(self) -> int:
        return 0 if self._rows is None else len(self._rows)

    def _turn(self, clip: np.ndarray) -> list[Message]:
        return [*self.messages, Message(role="user", text=self.text, audio=clip)]

    def feed(self, samples: np.ndarray, advance: bool = True) -> None:
        """Add samples; every ``every_s`` seconds of new audio, encode and prefill what became final
        (``advance=False``: only add them, for ``finish`` to encode)."""
        block = to_float(np.asarray(samples))
        if block.size == 0:
            return
        self._chunks.append(block)
        self._samples += block.size
        if advance and self.enabled and self._samples - self._encoded_at >= self.every:
            self._advance()

    def catch_up(self, min_s: float) -> bool:
        """Encode and prefill now if at least ``min_s`` of audio arrived since the last encoding (for a
        caller whose engine would otherwise sit idle until the next ``every_s``); whether it did."""
        if not self.enabled or self._samples - self._encoded_at < max(1, int(min_s * SAMPLE_RATE)):
            return False
        self._advance()
        return True

    def _clip(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    def _advance(self) -> None:
        clip = self._clip()
        self._encoded_at = clip.size
        model = self.model
        n = audio_token_count(clip.size, model.processor_spec.audio_seq_length)
        if self._encoder is not None:
            new = self._encoder.advance(clip)
            if len(new) == 0:
                return
            self._encoded.append(new)
            self.encodings += 1
            self._prefill(clip, n, np.concatenate(self._encoded), self._encoder.done)
            return
        if n <= HOLD:
            return
        rows = model._encode_audio([clip], [n], Timings())
        self.encodings += 1
        self._prefill(clip, n, rows, n - HOLD)

    def _prefill(self, clip: np.ndarray, n: int, rows: Array, final: int) -> None:
        """Prefill ``rows[prefilled_rows:final]`` (starting the prompt head first if needed)."""
        model = self.model
        if self._cache is None:
            self._start_head(clip, n)
        done = self.prefilled_rows
        if final <= done:
            return
        assert self._cache is not None
        new = rows[done:final]
        embeds = new[None].astype(model.decoder.embeds_dtype, copy=False)
        _, ple = model.decoder.embed([model.prompts.audio_id] * len(new))
        _, self._cache = model.decoder.forward(embeds, ple, self._cache)
        self._rows = new if self._rows is None else np.concatenate([self._rows, new])

    def _start_head(self, clip: np.ndarray, n: int) -> None:
        """Prefill the prompt up to the first audio row (restoring the system turn from the prefix cache)."""
        model = self.model
        ids = model.prompts.encode(model.prompts.render(self._turn(clip), self.tools, self.options.thinking), [n])
        self._head = ids[: ids.index(model.prompts.audio_id)]
        embeds, ple = model.decoder.embed(self._head)
        head = Prefill(self._head, embeds, ple)
        cache = None
        if model.prefix_cache is not None:
            cache = model.prefix_cache.restore(head, model.system_ids(self.messages, self.tools, self.options.thinking))
        cache = cache or model.decoder.empty_cache()
        _, self._cache = model.decoder.forward(embeds[:, cache.length :], ple[:, cache.length :], cache)

    def finish(self) -> Generation:
        """The model step over the whole utterance; only what was not prefilled yet is prefilled now."""
        clip = self._clip()
        if clip.size == 0:
            from assistant.errors import AssistantError

            raise AssistantError("the spoken turn has no audio")
        messages = self._turn(clip)
        streamed = self._cache if self._rows is not None else None
        model = self.model

        def start(timings: Timings) -> tuple[Prefill, KvCache | None]:
            prompt = model.prepare(messages, self.tools, self.options.thinking, timings, self._rest(clip, timings))
            if streamed is not None and self._matches(prompt):
                return prompt, streamed
            if model.prefix_cache is not None:
                ids = model.system_ids(messages, self.tools, self.options.thinking)
                return prompt, model.prefix_cache.restore(prompt, ids, timings)
            return prompt, None

        return model.generation(start, self.options)

    def _rest(self, clip: np.ndarray, timings: Timings) -> Array | None:
        """Every audio row of the clip, encoding only what the incremental encoder has not (None without one)."""
        if self._encoder is None:
            return None
        start = now()
        self._encoded.append(self._encoder.advance(clip, final=True))
        timings.encoder_s += now() - start
        return np.concatenate([r for r in self._encoded if len(r)])

    def _matches(self, prompt: Prefill) -> bool:
        """Whether the streamed KV state is the prefix of ``prompt`` (same ids, same audio rows)."""
        assert self._rows is not None
        head, k = len(self._head), len(self._rows)
        if prompt.ids[:head] != self._head or len(prompt.ids) <= head + k:
            return False
        if any(t != self.model.prompts.audio_id for t in prompt.ids[head : head + k]):
            return False
        now = prompt.embeds[0, head : head + k].astype(np.float32)
        return bool(np.allclose(now, self._rows.astype(now.dtype), atol=SAME_ROWS_ATOL, rtol=0))
