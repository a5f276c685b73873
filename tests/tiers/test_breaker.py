"""The circuit breaker's states, with a hand-moved clock."""

from __future__ import annotations

import pytest

from assistant.tiers.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_recovers():
    clock = Clock()
    breaker = CircuitBreaker("desk", failures=3, cooldown_s=10, clock=clock)
    breaker.failure("x")
    breaker.success()
    breaker.failure("x")
    breaker.failure("x")
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure("timeout")
    assert breaker.state == "open" and not breaker.allow()
    assert breaker.last_error == "timeout"
    clock.now = 9.9
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow(), "only one trial while half-open"
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_failed_trial_reopens_for_a_full_cooldown():
    clock = Clock()
    breaker = CircuitBreaker("desk", failures=1, cooldown_s=5, clock=clock)
    breaker.failure()
    clock.now = 5
    assert breaker.allow()
    breaker.failure("still down")
    assert breaker.state == "open"
    clock.now = 9
    assert not breaker.allow()
    clock.now = 10
    assert breaker.allow()


def test_threshold_must_be_positive():
    with pytest.raises(ValueError):
        CircuitBreaker("x", failures=0)
