"""Routing rules from config: the first rule whose pattern matches the request text decides."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.config.schema import RouteRuleConfig
from assistant.errors import ConfigError

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
    rules = []
    for i, rc in enumerate(configs):
        key = f"tiers.rules[{i}]"
        if not rc.pattern:
            raise ConfigError(source, f"{key}.pattern", "is empty")
        try:
            pattern = re.compile(rc.pattern, re.IGNORECASE)
        except re.error as err:
            raise ConfigError(source, f"{key}.pattern", f'= "{rc.pattern}": not a regular expression ({err})') from None
        allowed = (LOCAL, REMOTE, *tier_names)
        if rc.tier not in allowed:
            raise ConfigError(source, f"{key}.tier", f'= "{rc.tier}": not allowed (allowed: {", ".join(allowed)})')
        rules.append(Rule(pattern, rc.tier))
    return rules


def match(rules: Sequence[Rule], text: str) -> Rule | None:
    """The first rule matching ``text``, if any."""
    if not text:
        return None
    return next((rule for rule in rules if rule.pattern.search(text)), None)
