"""``assistant doctor`` checks of the engine: the model directory verified like ``assistant models verify``.

Files, shards, graph signatures and (with a manifest) checksums; the weights are not loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.config import Config, model_dir
from assistant.errors import AssistantError

Outcome = tuple[str, str, str]
FIX = "run 'assistant models pull e2b', or copy a model directory there (or anywhere and set model.dir)"


def model_verified(config: Config) -> Outcome:
    from assistant.engine.verify import verify

    where = model_dir(config)
    if not where.is_dir():
        return "fail", f"{where}: no model directory", FIX
    try:
        report = verify(where)
    except AssistantError as err:
        return "fail", str(err), FIX
    checked = sum(line.startswith("ok") for line in report.lines)
    notes = [line[6:] for line in report.lines if line.startswith("note")]
    detail = f"{where}: {checked} checks passed" + (f" ({'; '.join(notes)})" if notes else "")
    return "ok", detail, ""


def doctor_checks() -> list[tuple[str, Callable[[Config], Outcome]]]:
    return [("model verify", model_verified)]
