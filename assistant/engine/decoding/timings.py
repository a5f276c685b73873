"""Per-stage timings of one model step, readable by the caller during and after generation."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def now() -> float:
    """Monotonic seconds, the one clock every stage uses."""
    return time.perf_counter()


@dataclass
class Timings:
    """Seconds spent per stage; ``token_s`` holds one entry per decoded token after the first."""

    prompt_s: float = 0.0
    features_s: float = 0.0
    encoder_s: float = 0.0
    prefix_s: float = 0.0  # prefilling the system turn into the prefix cache (a miss only), before prefill_s
    prefill_s: float = 0.0
    first_token_s: float = 0.0
    token_s: list[float] = field(default_factory=list)
    prompt_tokens: int = 0  # prefilled in this step
    cached_tokens: int = 0  # prompt positions restored from a KV cache instead
    audio_tokens: int = 0
    generated_tokens: int = 0
    stop_reason: str = ""
    started: float = 0.0  # now() when the step began (its prompt and prefill)
    passes: list[tuple[str, int, float]] = field(default_factory=list)  # (kind, tokens, s) per decoder pass (constrained)

    @property
    def decode_s(self) -> float:
        """Time spent on tokens after the first."""
        return sum(self.token_s)

    @property
    def decode_tokens_per_s(self) -> float:
        return len(self.token_s) / self.decode_s if self.token_s and self.decode_s > 0 else 0.0

    @property
    def prefill_tokens_per_s(self) -> float:
        return self.prompt_tokens / self.prefill_s if self.prefill_s > 0 else 0.0

    def summary(self) -> dict[str, float | int | str]:
        """Flat figures for printing or JSON (seconds, counts, rates)."""
        return {
            "prompt_s": self.prompt_s,
            "features_s": self.features_s,
            "encoder_s": self.encoder_s,
            "prefix_s": self.prefix_s,
            "prefill_s": self.prefill_s,
            "first_token_s": self.first_token_s,
            "decode_s": self.decode_s,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "audio_tokens": self.audio_tokens,
            "generated_tokens": self.generated_tokens,
            "prefill_tok_per_s": self.prefill_tokens_per_s,
            "decode_tok_per_s": self.decode_tokens_per_s,
            "stop_reason": self.stop_reason,
        }
