"""``models verify`` and ``models list``: is a model directory whole, and what is installed where.

Verification never loads weights: graph signatures and external-data spans are read from
the .onnx files themselves (see ``onnxfile``), checksums come from ``manifest.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.engine.decoding.prompt import PromptBuilder, load_tokenizer
from assistant.engine.graphs.contract import check_graph
from assistant.engine.graphs.manifest import read_manifest, sha256_file
from assistant.engine.graphs.model_dir import (
    GRAPHS,
    ModelDirError,
    check_dir,
    check_graph_files,
    graph_file,
    installed_precisions,
    iter_model_files,
    shard_files,
)
from assistant.engine.graphs.spec import load_generation_spec, load_model_spec, load_processor_spec
from assistant.errors import AssistantError


@dataclass
class VerifyReport:
    lines: list[str] = field(default_factory=list)

    def ok(self, text: str) -> None:
        self.lines.append(f"ok    {text}")

    def note(self, text: str) -> None:
        self.lines.append(f"note  {text}")


def verify(model_dir: Path, say: Callable[[str], None] = lambda _line: None) -> VerifyReport:
    """Check files, shards, graph signatures and checksums; the first problem raises one line."""
    report = VerifyReport()

    def ok(text: str) -> None:
        report.ok(text)
        say(report.lines[-1])

    check_dir(model_dir)
    spec = load_model_spec(model_dir)
    load_generation_spec(model_dir)
    processor = load_processor_spec(model_dir)
    ok("config.json, generation_config.json, processor_config.json")
    PromptBuilder(load_tokenizer(model_dir), spec.audio_token_id, spec.boa_token_id, spec.eoa_token_id)
    ok("tokenizer.json, tokenizer_config.json, chat_template.jinja")
    mel_bins = int(processor.feature_extractor.get("feature_size", 128))
    for graph in GRAPHS:
        precisions = installed_precisions(model_dir, graph)
        if not precisions:
            if graph != "audio_encoder":
                raise ModelDirError(f"{model_dir / graph_file(graph, 'q4')}: missing (no precision of {graph} is installed)")
            report.note("no audio_encoder: this model directory serves text only")
            say(report.lines[-1])
            continue
        for precision in precisions:
            info = check_graph_files(model_dir, graph, precision)
            check_graph(graph, Path(graph_file(graph, precision)).name, info.inputs, info.outputs, spec, mel_bins)
            shards = shard_files(model_dir, graph_file(graph, precision))
            ok(f"{graph_file(graph, precision)} (+{len(shards)} data file{'s' if len(shards) != 1 else ''}), signature matches")
    _verify_checksums(model_dir, report, say)
    return report


def _verify_checksums(model_dir: Path, report: VerifyReport, say: Callable[[str], None]) -> None:
    manifest = read_manifest(model_dir)
    if manifest is None:
        report.note("no manifest.json: checksums not checked (pull writes one)")
        say(report.lines[-1])
        return
    files: dict[str, dict[str, object]] = manifest["files"]
    for rel, entry in files.items():
        path = model_dir / rel
        if not path.is_file():
            raise ModelDirError(f"{path}: missing (listed in manifest.json)")
        size = path.stat().st_size
        if size != entry.get("size"):
            raise ModelDirError(f"{path}: {size} bytes, manifest.json says {entry.get('size')}")
        if sha256_file(path) != entry.get("sha256"):
            raise ModelDirError(f"{path}: checksum differs from manifest.json (corrupt or changed)")
    report.ok(f"{len(files)} checksums match manifest.json")
    say(report.lines[-1])
    extra = [rel for rel in iter_model_files(model_dir) if rel not in files]
    if extra:
        report.note(f"{len(extra)} file(s) not in manifest.json, not checked: {', '.join(extra[:5])}")
        say(report.lines[-1])


@dataclass(frozen=True)
class Installed:
    path: Path
    precisions: dict[str, list[str]]
    size: int
    error: str = ""


def inventory(dirs: list[Path]) -> list[Installed]:
    """Model directories among ``dirs`` (each a model dir or a folder of them), with precisions and sizes."""
    found: list[Installed] = []
    seen: set[Path] = set()
    for base in dirs:
        candidates = [base] if (base / "config.json").is_file() else sorted(p for p in base.glob("*") if p.is_dir())
        for path in candidates:
            if path.resolve() in seen or not (path / "config.json").is_file():
                continue
            seen.add(path.resolve())
            precisions = {g: installed_precisions(path, g) for g in GRAPHS}
            size = sum((path / rel).stat().st_size for rel in iter_model_files(path))
            error = ""
            try:
                check_dir(path)
            except AssistantError as err:
                error = str(err)
            found.append(Installed(path, precisions, size, error))
    return found
