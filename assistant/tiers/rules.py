"""Routing rules from config: the first rule whose pattern matches the request text decides."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.config.schema import RouteRuleConfig
from assistant.config.validate import compile_rule

LOCAL, REMOTE = "local", "remote"


@dataclass(frozen=True)
class Rule:
    """A compiled rule: requests matching ``pattern`` go to ``tier``."""

    pattern: re.Pattern[str]
    tier: str

    def describe(self) -> str:
        return f"/{self.pattern.pattern}/ -> {self.tier}"


def compile_rules(configs: Sequence[RouteRuleConfig], tier_names: Sequence[str], source: str = "config") -> list[Rule]:
    """Validated rules; a bad pattern or unknown tier is a one-line ConfigError."""
    return [Rule(compile_rule(rc, i, tier_names, source), rc.tier) for i, rc in enumerate(configs)]


def match(rules: Sequence[Rule], text: str) -> Rule | None:
    """The first rule matching ``text``, if any."""
    if not text:
        return None
    return next((rule for rule in rules if rule.pattern.search(text)), None)
