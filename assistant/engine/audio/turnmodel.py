"""What an audio turn needs from the model (:class:`TurnModel`), so ``engine/audio`` never imports it,
and what a live turn needs from an audio turn (:class:`SpokenTurn`).

:class:`~assistant.engine.model.GemmaModel` satisfies it; mypy checks that where the model hands
itself to :class:`~assistant.engine.audio.audioturn.AudioTurn` and ``stream_live``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from assistant.engine.audio.audiostream import StagedEncoder
from assistant.engine.audio.features import FeatureExtractor
from assistant.engine.decoding.backend import DecoderBackend
from assistant.engine.decoding.decode import KvCache, Prefill
from assistant.engine.decoding.events import Markers
from assistant.engine.decoding.prefixcache import PrefixCache
from assistant.engine.decoding.prompt import PromptBuilder
from assistant.engine.decoding.timings import Timings
from assistant.engine.generation import Generation, GenerationOptions
from assistant.engine.graphs.spec import ProcessorSpec
from assistant.protocols import Message


class SpokenTurn(Protocol):
    """A spoken turn being fed (:class:`~assistant.engine.audio.audioturn.AudioTurn`)."""

    @property
    def prefilled_rows(self) -> int: ...

    def feed(self, samples: np.ndarray, advance: bool = True) -> None: ...

    def catch_up(self, min_s: float) -> bool: ...

    def finish(self) -> Generation: ...

    def fork(self) -> SpokenTurn: ...


class TurnModel(Protocol):
    """The loaded model, as the audio turns use it (encoder, decoder, prompts, prefix cache, generations)."""

    @property
    def processor_spec(self) -> ProcessorSpec: ...
    @property
    def decoder(self) -> DecoderBackend: ...
    @property
    def prompts(self) -> PromptBuilder: ...
    @property
    def prefix_cache(self) -> PrefixCache | None: ...
    @property
    def features(self) -> FeatureExtractor | None: ...
    @property
    def audio_stages(self) -> StagedEncoder | None: ...
    @property
    def has_audio(self) -> bool: ...
    @property
    def tokenizer(self) -> Any: ...
    @property
    def markers(self) -> Markers: ...

    def options(self, **overrides: Any) -> GenerationOptions: ...

    def _encode_audio(self, clips: list[np.ndarray], counts: list[int], timings: Timings) -> np.ndarray: ...

    def system_ids(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]], thinking: bool) -> list[int]: ...

    def prepare(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]], thinking: bool, timings: Timings,
                rows: np.ndarray | None = None) -> Prefill: ...

    def generation(self, start: Callable[[Timings], tuple[Prefill, KvCache | None]],
                   opts: GenerationOptions) -> Generation: ...

    def begin_audio_turn(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = (),
                         options: GenerationOptions | None = None, text: str = "", every_s: float = 1.0) -> SpokenTurn: ...
