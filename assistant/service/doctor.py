"""``assistant doctor``: named checks, each ok / warn / fail / skip, every failure with its fix.

A :class:`Check` is a name and a function from the configuration to a :class:`Result`.
The runner never lets a check raise: an exception becomes a failed result with one line.
The exit code is 1 when any check failed, else 0; warnings do not fail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from assistant.config import Config
from assistant.errors import AssistantError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
_LABEL = {OK: "ok", WARN: "warn", FAIL: "FAIL", SKIP: "skip"}


@dataclass(frozen=True)
class Result:
    """What a check found; ``fix`` says what to do about a warning or failure."""

    status: str
    detail: str
    fix: str = ""

    @classmethod
    def ok(cls, detail: str) -> Result:
        return cls(OK, detail)

    @classmethod
    def warn(cls, detail: str, fix: str) -> Result:
        return cls(WARN, detail, fix)

    @classmethod
    def fail(cls, detail: str, fix: str) -> Result:
        return cls(FAIL, detail, fix)

    @classmethod
    def skip(cls, detail: str) -> Result:
        return cls(SKIP, detail)


@dataclass(frozen=True)
class Check:
    """One named check; ``stage`` names the part of the assistant it is about."""

    name: str
    run: Callable[[Config], Result]
    stage: str = "system"


@dataclass(frozen=True)
class Outcome:
    check: Check
    result: Result
    seconds: float


def run_checks(checks: Iterable[Check], config: Config, only: set[str] | None = None) -> Iterator[Outcome]:
    """Run each check in order (or only those named), yielding as each one finishes."""
    for check in checks:
        if only and check.name not in only:
            continue
        start = time.monotonic()
        try:
            result = check.run(config)
        except AssistantError as err:
            result = Result.fail(str(err), "see the message above")
        except Exception as err:
            result = Result.fail(f"the check itself failed: {type(err).__name__}: {err}".splitlines()[0],
                                 "please report this with the output of 'assistant -vv doctor'")
        yield Outcome(check, result, time.monotonic() - start)


def format_outcome(outcome: Outcome, width: int = 16) -> str:
    r = outcome.result
    lines = [f"{_LABEL[r.status]:<5} {outcome.check.name:<{width}} {r.detail}".rstrip()]
    if r.fix and r.status in (WARN, FAIL):
        lines.append(f"{'':<5} {'':<{width}} fix: {r.fix}")
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> str:
    counts = {s: sum(o.result.status == s for o in outcomes) for s in (OK, WARN, FAIL, SKIP)}
    return f"{counts[OK]} ok, {counts[WARN]} warnings, {counts[FAIL]} failed, {counts[SKIP]} skipped"


def exit_code(outcomes: list[Outcome]) -> int:
    return 1 if any(o.result.status == FAIL for o in outcomes) else 0


def report(checks: Iterable[Check], config: Config, out: TextIO, as_json: bool = False,
           only: set[str] | None = None) -> int:
    """Print each result as it comes (or one JSON object at the end); return the exit code."""
    outcomes = []
    for outcome in run_checks(checks, config, only):
        outcomes.append(outcome)
        if not as_json:
            out.write(format_outcome(outcome) + "\n")
            out.flush()
    if as_json:
        data = {"checks": [{"name": o.check.name, "stage": o.check.stage, "status": o.result.status,
                            "detail": o.result.detail, "fix": o.result.fix, "seconds": round(o.seconds, 3)}
                           for o in outcomes], "failed": exit_code(outcomes) == 1}
        out.write(json.dumps(data) + "\n")
    else:
        out.write(summary(outcomes) + "\n")
    return exit_code(outcomes)
