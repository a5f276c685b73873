"""Remote tiers: larger Gemma 4 models behind OpenAI-compatible APIs, a router and a circuit breaker.

Only text ever leaves the device, and nothing at all when ``tiers.privacy = "off"``.
"""

from assistant.tiers.breaker import CircuitBreaker
from assistant.tiers.client import Health, OpenAITier
from assistant.tiers.errors import PrivacyError, TierError
from assistant.tiers.factory import build_router, build_tiers
from assistant.tiers.router import Router, TurnRecord, escalation_tool

__all__ = [
    "CircuitBreaker",
    "Health",
    "OpenAITier",
    "PrivacyError",
    "Router",
    "TierError",
    "TurnRecord",
    "build_router",
    "build_tiers",
    "escalation_tool",
]
