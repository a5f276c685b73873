"""``manifest.json`` in a model directory: where it came from and a SHA-256 per file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.engine.graphs.model_dir import MANIFEST, ModelDirError

CHUNK = 4 << 20


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks; ``progress`` gets the bytes of each chunk."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    """The manifest, or None when the directory has none."""
    path = model_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelDirError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ModelDirError(f"{path}: has no 'files' table")
    return data


def write_manifest(model_dir: Path, repo: str, revision: str, files: dict[str, dict[str, Any]]) -> Path:
    """Merge ``files`` ({relpath: {size, sha256}}) into the manifest and write it atomically."""
    old = read_manifest(model_dir) or {"files": {}}
    merged = dict(old["files"])
    merged.update(files)
    data = {"repo": repo, "revision": revision, "files": dict(sorted(merged.items()))}
    path = model_dir / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
