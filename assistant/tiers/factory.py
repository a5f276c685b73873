"""Build the remote tiers and the router from ``[tiers]`` config, honouring the privacy setting."""

from __future__ import annotations

import time
from collections.abc import Callable

from assistant.config.schema import TiersConfig
from assistant.errors import ConfigError
from assistant.protocols import Engine
from assistant.tiers.client import OpenAITier
from assistant.tiers.router import Router
from assistant.tiers.rules import compile_rules


def build_tiers(config: TiersConfig, clock: Callable[[], float] = time.monotonic) -> list[OpenAITier]:
    """The enabled remote tiers; none at all when privacy is ``off``."""
    names = [t.name for t in config.remote]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError("config", "tiers.remote", f"tier names must differ (repeated: {', '.join(duplicates)})")
    if config.privacy != "text":
        return []
    return [OpenAITier(t, config.privacy, clock) for t in config.remote if t.enabled]


def build_router(local: Engine, config: TiersConfig, clock: Callable[[], float] = time.monotonic,
                 source: str = "config") -> Router:
    """A Router over ``local`` and the configured tiers."""
    tiers = build_tiers(config, clock)
    rules = compile_rules(config.rules, [t.name for t in config.remote], source)
    return Router(local, tiers, privacy=config.privacy, rules=rules, breaker_failures=config.breaker_failures,
                  breaker_cooldown_s=config.breaker_cooldown_s, fallback_notice=config.fallback_notice,
                  tool_name=config.escalation_tool, clock=clock)
