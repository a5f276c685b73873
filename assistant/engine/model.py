"""``GemmaModel``: the model directory loaded, and one model step from messages to events.

    model = GemmaModel.load(model_dir, config.model)
    for event in model.generate(messages, tools):      # assistant.protocols.Engine
        ...
    gen = model.stream(messages, tools)                # the richer form
    for event in gen: ...
    gen.timings, gen.token_ids, gen.text, gen.thinking, gen.tool_calls
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config.schema import ModelConfig
from assistant.engine.audio.audiostream import StagedEncoder
from assistant.engine.audio.audioturn import AudioTurn
from assistant.engine.audio.features import SAMPLE_RATE, FeatureExtractor, audio_token_count, fit_frames
from assistant.engine.audio.liveturn import is_live, settle, stream_live
from assistant.engine.decoding.backend import DecoderBackend
from assistant.engine.decoding.decode import Decoder, KvCache, Prefill, decode_tokens
from assistant.engine.decoding.events import EventRouter, Markers
from assistant.engine.decoding.llamadecoder import LlamaDecoder
from assistant.engine.decoding.prefixcache import PrefixCache, shared_length
from assistant.engine.decoding.prompt import PromptBuilder, load_tokenizer
from assistant.engine.decoding.sampling import LogitsProcessor, Sampler, SamplingParams, suppress
from assistant.engine.decoding.timings import Timings, now
from assistant.engine.generation import Generation, GenerationOptions
from assistant.engine.grammar.constraint import Counts
from assistant.engine.grammar.jumpforward import decode_constrained
from assistant.engine.graphs.model_dir import Selection, check_dir
from assistant.engine.graphs.ple_setup import ensure_ple_store
from assistant.engine.graphs.sessions import Graph
from assistant.engine.graphs.spec import (
    GenerationSpec,
    ModelSpec,
    ProcessorSpec,
    load_generation_spec,
    load_model_spec,
    load_processor_spec,
)
from assistant.engine.loading import check_files, open_checked
from assistant.errors import AssistantError
from assistant.protocols import Event, Message

log = logging.getLogger("assistant.engine")


def default_cache_dir(model_dir: Path) -> Path:
    """``<model_dir>/.cache`` when the model directory is writable, else ``~/.cache/assistant``."""
    return model_dir / ".cache" if os.access(model_dir, os.W_OK) else Path.home() / ".cache" / "assistant"


class GemmaModel:
    """Gemma 4 (E2B layout): the audio encoder on ONNX Runtime, the text decoder on ONNX Runtime or llama.cpp."""

    def __init__(
        self,
        model_dir: Path,
        config: ModelConfig,
        spec: ModelSpec,
        generation: GenerationSpec,
        processor: ProcessorSpec,
        tokenizer: Any,
        decoder: DecoderBackend,
        audio: Graph | None,
        features: FeatureExtractor | None,
    ) -> None:
        self.model_dir = model_dir
        self.config = config
        self.spec = spec
        self.generation_spec = generation
        self.processor_spec = processor
        self.tokenizer = tokenizer
        self.decoder = decoder
        self.audio = audio
        self.features = features
        self.prompts = PromptBuilder(tokenizer, spec.audio_token_id, spec.boa_token_id, spec.eoa_token_id)
        self.markers = Markers.from_tokenizer(tokenizer.backend_tokenizer)
        self.load_s = 0.0
        self.prefix_cache = PrefixCache(decoder) if config.prefix_cache else None
        self._system: tuple[str, list[int]] = ("", [])
        self.audio_stages: StagedEncoder | None = None  # the encoder split for incremental encoding (audiostream.py)

    @classmethod
    def load(cls, model_dir: str | Path, config: ModelConfig | None = None, *, audio: bool = True,
             cache_dir: Path | None = None, graph_cache: Path | None = None,
             progress: Callable[[str], None] | None = None) -> GemmaModel:
        """Check and load ``model_dir`` with the precisions in ``config``; ``audio=False`` skips the encoder.

        A model directory without ``audio_encoder`` loads text-only. ``cache_dir``: where files built
        from the model go (the per-layer embedding store; default :func:`default_cache_dir`);
        ``graph_cache``: where optimised graphs go (``config.optimize_graphs``; the caller resolves
        ``graph_cache_dir``; default ``<cache_dir>/graphs``); ``progress``: one line at a time while
        building them (default: warnings in the log).
        """
        start = now()
        cfg = config or ModelConfig()
        root = Path(model_dir).expanduser()
        check_dir(root)
        spec = load_model_spec(root)
        generation = load_generation_spec(root)
        processor = load_processor_spec(root)
        tokenizer = load_tokenizer(root)
        selection = Selection(decoder=cfg.decoder_precision, embed=cfg.embed_precision, audio=cfg.audio_precision)
        want_audio = audio and spec.has_audio and any((root / "onnx").glob("audio_encoder*.onnx"))
        mel_bins = int(processor.feature_extractor.get("feature_size", 128))
        graphs: dict[str, Graph] = {}
        stages: StagedEncoder | None = None
        graph_cache = graph_cache or (cache_dir or default_cache_dir(root)) / "graphs"
        llama = cfg.backend == "llama.cpp"  # the text decoder from a GGUF: only the audio encoder is a graph then
        wanted = [(n, p) for n, p in selection.items()
                  if (n == "audio_encoder" and want_audio) or (n != "audio_encoder" and not llama)]
        # every file or signature problem first, in the usual order
        infos = {name: check_files(root, name, precision, spec, mel_bins) for name, precision in wanted}
        # decoder first: its load peak (original weights read while repacking) comes before the rest is resident
        for name, precision in reversed(wanted):
            graphs[name], staged = open_checked(root, name, precision, infos[name], spec, mel_bins, cfg, graph_cache,
                                                progress or log.warning)
            stages = stages or staged
        features = FeatureExtractor(processor.feature_extractor) if "audio_encoder" in graphs else None
        decoder: DecoderBackend
        if llama:
            gguf = Path(cfg.gguf).expanduser() if cfg.gguf else root / "gguf" / "model.gguf"
            decoder = LlamaDecoder(gguf, spec, cfg.threads, cfg.context, cfg.llama_repack)
        else:
            decoder = cls._onnx_decoder(root, cfg, spec, graphs, cache_dir, progress)
        model = cls(root, cfg, spec, generation, processor, tokenizer, decoder, graphs.get("audio_encoder"), features)
        model.audio_stages = stages
        model.load_s = now() - start
        log.info("loaded %s in %.2f s (%s)", root, model.load_s,
                 f"llama.cpp on {cfg.gguf or 'gguf/model.gguf'}" if llama else selection)
        return model

    @staticmethod
    def _onnx_decoder(root: Path, cfg: ModelConfig, spec: ModelSpec, graphs: dict[str, Graph], cache_dir: Path | None,
                      progress: Callable[[str], None] | None) -> Decoder:
        ple = None
        if cfg.ple_store != "off":
            embed = graphs["embed_tokens"]
            ple = ensure_ple_store(embed.path, embed.session, spec.text.vocab_size, cache_dir or default_cache_dir(root),
                                   int(cfg.ple_store.removeprefix("int")), progress or log.warning).lookup
        return Decoder(graphs["embed_tokens"], graphs["decoder_model_merged"], spec, ple)

    @property
    def onnx_decoder(self) -> Decoder:
        """The ONNX Runtime decoder (for measurements that read its graphs); ``AssistantError`` on llama.cpp."""
        if not isinstance(self.decoder, Decoder):
            raise AssistantError(f'this needs model.backend = "onnxruntime" (not "{self.config.backend}")')
        return self.decoder

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    def options(self, **overrides: Any) -> GenerationOptions:
        """Options from the config, with keyword overrides (``max_new_tokens``, ``sampling``, ``thinking``)."""
        c = self.config
        base = GenerationOptions(
            max_new_tokens=c.max_new_tokens,
            sampling=SamplingParams(c.sample, c.temperature, c.top_k, c.top_p, c.seed),
            thinking=c.thinking,
        )
        return replace(base, **overrides)

    def with_system_prompt(self, messages: Sequence[Message]) -> list[Message]:
        """``messages``, with the configured system prompt first unless one is already there."""
        if (messages and messages[0].role == "system") or not self.config.system_prompt:
            return list(messages)
        return [Message(role="system", text=self.config.system_prompt), *messages]

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> Iterator[Event]:
        """The ``Engine`` protocol: text deltas and finished tool calls, in order."""
        return iter(self.stream(self.with_system_prompt(messages), tools))

    def prepare(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]], thinking: bool, timings: Timings,
                rows: np.ndarray | None = None) -> Prefill:
        """Prompt ids and embeddings with every clip's audio rows in place; fills the stage timings.

        ``rows``: every clip's audio rows, already encoded (e.g. incrementally), instead of encoding them now.
        """
        return self._prepare(messages, tools, thinking, timings, None, rows)[0]

    def prepare_cached(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]], thinking: bool, timings: Timings
    ) -> tuple[Prefill, KvCache | None]:
        """``prepare`` through the prefix cache: the system turn's KV state restored (its positions are not
        embedded again) or, on a miss, prefilled and stored; None without a prefix cache or system turn."""
        prompt, found = self._prepare(messages, tools, thinking, timings, self.prefix_cache)
        if found is None and self.prefix_cache is not None:
            found = self.prefix_cache.restore(prompt, self.system_ids(messages, tools, thinking), timings)
        return prompt, found

    def _prepare(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]], thinking: bool,
                 timings: Timings, prefix: PrefixCache | None, rows: np.ndarray | None = None
                 ) -> tuple[Prefill, KvCache | None]:
        start = now()
        clips = [m.audio for m in messages if m.audio is not None]
        if clips and not self.has_audio:
            raise AssistantError(f"{self.model_dir} has no audio_encoder loaded: this model takes text only")
        cap = self.processor_spec.audio_seq_length
        counts = [audio_token_count(len(c), cap) for c in clips]
        if any(n == 0 for n in counts):
            raise AssistantError("an audio clip is too short (at least 0.02 s of 16 kHz audio is needed)")
        ids = self.prompts.encode(self.prompts.render(messages, tools, thinking), counts)
        timings.prompt_s = now() - start
        found = prefix.lookup(ids) if prefix is not None else None
        embeds, ple = self.decoder.embed(ids, found.length if found is not None else 0)
        if clips:
            if rows is None:
                rows = self._encode_audio(clips, counts, timings)
            elif len(rows) != sum(counts):
                raise AssistantError(f"{len(rows)} audio rows were given for {sum(counts)} audio tokens")
            slots = np.flatnonzero(np.asarray(ids) == self.prompts.audio_id)
            embeds[0, slots] = rows.astype(embeds.dtype, copy=False)
        timings.audio_tokens = sum(counts)
        return Prefill(ids, embeds, ple), found

    def _encode_audio(self, clips: list[np.ndarray], counts: list[int], timings: Timings) -> np.ndarray:
        assert self.audio is not None and self.features is not None
        rows = []
        for clip, n in zip(clips, counts, strict=True):
            start = now()
            feats = fit_frames(self.features(clip), self.audio.input("input_features").shape[1])
            mid = now()
            timings.features_s += mid - start
            feeds = {
                "input_features": feats.features.astype(self.audio.dtype("input_features"), copy=False),
                "input_features_mask": feats.mask,
            }
            (out,) = self.audio.run(feeds, ["audio_features"], shrink=True)
            timings.encoder_s += now() - mid
            out = out.reshape(-1, out.shape[-1])
            if out.shape[0] < n:
                raise AssistantError(f"{self.audio.label} returned {out.shape[0]} audio rows for {n} audio tokens")
            rows.append(out[:n])
        return np.concatenate(rows, axis=0)

    def system_ids(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]], thinking: bool) -> list[int]:
        """Token ids of the prompt rendered with only the leading system messages and ``tools`` (the shared prefix).

        Empty when there is neither a system message nor a tool. The last result is kept.
        """
        system = [m for m in itertools.takewhile(lambda m: m.role == "system", messages)]
        if not system and not tools:
            return []
        key = json.dumps([[m.text for m in system], list(tools), thinking], sort_keys=True, default=str)
        if self._system[0] != key:
            probe = [*system, Message(role="user", text="")]  # the template wants a conversation; ids diverge here
            self._system = (key, self.prompts.encode(self.prompts.render(probe, tools, thinking)))
        return self._system[1]

    def warm(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = (), thinking: bool | None = None) -> int:
        """Prefill the system turn of ``messages`` (their leading system messages) and ``tools`` into the
        prefix cache now, so the first user turn restores it instead of waiting for it.

        Returns the tokens prefilled: 0 when there is no prefix cache, no system turn, or it is cached already.
        """
        if self.prefix_cache is None:
            return 0
        thinking = self.options().thinking if thinking is None else thinking
        system = list(itertools.takewhile(lambda m: m.role == "system", messages))
        users = [Message(role="user", text="a"), Message(role="user", text="b")]
        if self.has_audio:
            users.append(Message(role="user", audio=np.zeros(SAMPLE_RATE // 10, dtype=np.float32)))
        renders = [self.prompts.encode(self.prompts.render([*system, u], tools, thinking), [1] * (u.audio is not None))
                   for u in users]
        shared = min(shared_length(renders[0], r) for r in renders[1:])  # what every user turn starts with
        ids = renders[0][: shared + 1]
        embeds, ple = self.decoder.embed(ids)
        builds = self.prefix_cache.builds
        cache = self.prefix_cache.restore(Prefill(ids, embeds, ple), self.system_ids(messages, tools, thinking))
        return cache.length if cache is not None and self.prefix_cache.builds > builds else 0

    def begin_audio_turn(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = (),
                         options: GenerationOptions | None = None, text: str = "", every_s: float = 1.0) -> AudioTurn:
        """A spoken user turn after ``messages`` (used as given), encoded and prefilled while it arrives.

        ``feed(samples)`` as audio comes in, then ``finish()`` for the :class:`Generation`; see ``audioturn.py``.
        """
        return AudioTurn(self, messages, tools, options, text, every_s)

    def processors(self) -> list[LogitsProcessor]:
        return [suppress(self.generation_spec.suppress_tokens)] if self.generation_spec.suppress_tokens else []

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] = (),
        options: GenerationOptions | None = None,
        cache: KvCache | None = None,
    ) -> Generation:
        """One model step over ``messages`` exactly as given (no system prompt added).

        A last message with live audio (``Message.live``) is encoded and prefilled as it arrives; this
        call returns once that audio is closed (see ``liveturn.py``).
        """
        opts = options or self.options()
        if cache is None and is_live(messages):
            return stream_live(self, messages, tools, opts)
        messages = settle(messages)

        def start(timings: Timings) -> tuple[Prefill, KvCache | None]:
            if cache is None:
                return self.prepare_cached(messages, tools, opts.thinking, timings)
            return self.prepare(messages, tools, opts.thinking, timings), cache

        return self.generation(start, opts)

    def generation(self, start: Callable[[Timings], tuple[Prefill, KvCache | None]], opts: GenerationOptions) -> Generation:
        """A step whose prompt, and the cache covering its first positions, ``start`` makes when iteration begins."""
        timings = Timings()
        counts = Counts()
        router = EventRouter(self.tokenizer.backend_tokenizer, self.markers)
        token_ids: list[int] = []

        def ticks() -> Iterator[Event | None]:
            timings.started = now()
            prompt, restored = start(timings)
            yield None  # the prompt is ready (a speculative caller may look up before the prefill)
            for token in self._tokens(prompt, opts, timings, counts, restored):
                token_ids.append(token)
                yield router.push(token)
            yield router.finish()

        steps = ticks()
        return Generation((event for event in steps if event is not None), timings, router, token_ids, counts, steps)

    def _tokens(self, prompt: Prefill, opts: GenerationOptions, timings: Timings, counts: Counts,
                cache: KvCache | None) -> Iterator[int]:
        """Generated ids: plain decoding, or jump-forward under ``opts.constraint``."""
        stops = self.generation_spec.eos_token_ids
        if opts.constraint is None:
            sampler = Sampler(opts.sampling, [*self.processors(), *opts.processors])
            return decode_tokens(self.decoder, prompt, sampler, stops, opts.max_new_tokens, timings, cache)
        scoring = opts.scoring
        if scoring is not None and scoring.rng is None and opts.sampling.sample:
            scoring = replace(scoring, rng=np.random.default_rng(opts.sampling.seed))
        sampler = Sampler(opts.sampling, [*self.processors(), *opts.processors, opts.constraint.mask])
        return decode_constrained(self.decoder, prompt, sampler, opts.constraint, stops, opts.max_new_tokens,
                                  timings, counts, cache, scoring)
