"""``assistant doctor`` checks of the engine: the model directory verified like ``assistant models verify``.

Files, shards, graph signatures and (with a manifest) checksums; the weights are not loaded. With
``model.backend = "llama.cpp"``, also the decoder's GGUF (present, a GGUF, its checksum when the manifest
lists it) and llama.cpp itself (installed, built for this CPU).
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.config import Config, gguf_path, model_dir
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


GGUF_FIX = "run 'assistant models pull e2b --gguf REPO:FILE', or set model.gguf to a GGUF of the text decoder"


def llama_backend(config: Config) -> Outcome:
    """llama.cpp installed and native for this CPU, and the GGUF in place (skipped on the ONNX backend)."""
    from assistant.engine.decoding.llamanative import check_native
    from assistant.engine.graphs.manifest import read_manifest

    if config.model.backend != "llama.cpp":
        return "skip", f"model.backend = {config.model.backend}", ""
    path = gguf_path(config)
    if not path.is_file():
        return "fail", f"{path}: no GGUF here", GGUF_FIX
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            return "fail", f"{path}: not a GGUF file", GGUF_FIX
    root = model_dir(config)
    listed = root.is_dir() and "gguf/model.gguf" in ((read_manifest(root) or {}).get("files") or {})
    in_dir = path.resolve() == (root / "gguf" / "model.gguf").resolve()
    checked = "checksum checked by model verify" if listed and in_dir else "no checksum recorded"
    try:
        check_native()
    except AssistantError as err:
        status = "warn" if "generic build" in str(err) else "fail"  # generic: slow; crashing or missing: unusable
        return status, str(err), "scripts/setup --test"
    return "ok", f"{path} ({path.stat().st_size / 1e9:.2f} GB, {checked}); llama.cpp built for this CPU", ""


def doctor_checks() -> list[tuple[str, Callable[[Config], Outcome]]]:
    return [("model verify", model_verified), ("llama.cpp backend", llama_backend)]
