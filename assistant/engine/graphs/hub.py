"""``models pull``: fetch the published ONNX model from the Hugging Face hub, resumably.

Only the files the chosen precisions need are fetched: the sidecar configs, and for each graph
its ``.onnx`` file plus every ``.onnx_data*`` shard. Downloads go through ``huggingface_hub``
(partial files are resumed, with a progress bar); each file's SHA-256 is checked against the
hub's LFS metadata where it has one and recorded in ``manifest.json``. ``pull_gguf`` adds a GGUF of the
text decoder (``model.backend = "llama.cpp"``) from any hub repository as ``gguf/model.gguf``, refused
unless the hub gives its SHA-256 and the download matches it.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.engine.graphs.manifest import read_manifest, sha256_file, write_manifest
from assistant.engine.graphs.model_dir import GRAPHS, OPTIONAL_FILES, REQUIRED_FILES, SUFFIX
from assistant.errors import AssistantError

# Every engine model a hardware profile can name (``hardware/*.toml``, ``[engine] model``); E4B is published in
# the same layout as E2B (same graphs, precisions and shards; its sizes come from config.json).
REPOS = {"e2b": "onnx-community/gemma-4-E2B-it-ONNX", "e4b": "onnx-community/gemma-4-E4B-it-ONNX"}


def default_dir_name(model: str) -> str:
    """The folder a pulled ``model`` gets under ``<state_dir>/models``: the repository's name."""
    return REPOS[model].rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str  # '' when the hub gives none (small non-LFS files)


def offline_message(repo: str, dest: Path, reason: str) -> str:
    """The one line shown when the hub cannot be reached."""
    model = next((key for key, name in REPOS.items() if name == repo), "e2b")
    return (
        f"cannot reach the Hugging Face hub for {repo} ({reason}); on a machine with internet run "
        f"'assistant models pull {model} --dir DIR' (or download {repo} there), copy DIR here "
        f"(e.g. rsync -a DIR/ pi:{dest}/), then set model.dir = \"{dest}\" in the config "
        f"and check it with 'assistant models verify {dest}'"
    )


def _is_network_error(err: BaseException) -> bool:
    names = {cls.__name__ for cls in type(err).__mro__}
    network = {"OfflineModeIsEnabled", "LocalEntryNotFoundError", "TransportError", "RequestError", "TimeoutException"}
    return bool(names & network) or isinstance(err, ConnectionError | TimeoutError)


def _reason(err: BaseException) -> str:
    if type(err).__name__ == "OfflineModeIsEnabled":
        return "HF_HUB_OFFLINE is set"
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]


def wanted_files(names: Iterable[str], selection: dict[str, set[str]]) -> list[str]:
    """Repo files needed for ``selection`` ({graph: {precisions}}), in a stable order."""
    available = set(names)
    out = [n for n in (*REQUIRED_FILES, *OPTIONAL_FILES) if n in available]
    for graph in GRAPHS:
        for precision in sorted(selection.get(graph, ())):
            stem = f"onnx/{graph}{SUFFIX[precision]}.onnx"
            if stem not in available:
                raise AssistantError(f"{stem} is not in the repository (precision {precision} of {graph} is not published)")
            shard = re.compile(re.escape(stem) + r"_data(_\d+)?$")
            out.append(stem)
            out.extend(sorted((n for n in available if shard.match(n)), key=_shard_key))
    missing = [n for n in REQUIRED_FILES if n not in available]
    if missing:
        raise AssistantError(f"the repository lacks {', '.join(missing)}")
    return out


def _shard_key(name: str) -> tuple[int, str]:
    match = re.search(r"_data_(\d+)$", name)
    return (int(match.group(1)) if match else 0, name)


def _remote_files(repo: str, revision: str | None) -> tuple[str, dict[str, RemoteFile]]:
    from huggingface_hub import HfApi

    info = HfApi().model_info(repo, revision=revision, files_metadata=True)
    files = {}
    for sib in info.siblings or []:
        lfs: Any = getattr(sib, "lfs", None)
        sha = (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", "")) if lfs else ""
        files[sib.rfilename] = RemoteFile(sib.rfilename, int(sib.size or 0), sha or "")
    return str(info.sha or revision or "main"), files


def pull(model: str, dest: Path, selection: dict[str, set[str]], revision: str | None = None) -> Path:
    """Download what ``selection`` needs into ``dest`` and record checksums; returns the manifest path."""
    repo = REPOS.get(model)
    if repo is None:
        raise AssistantError(f"unknown model {model!r} (known: {', '.join(REPOS)})")
    try:
        sha, remote = _remote_files(repo, revision)
    except Exception as err:
        if _is_network_error(err):
            raise AssistantError(offline_message(repo, dest, _reason(err))) from err
        raise AssistantError(f"the hub refused {repo}: {_reason(err)}") from err
    names = wanted_files(remote, selection)
    total = sum(remote[n].size for n in names)
    print(f"{repo}@{sha[:12]}: {len(names)} files, {total / 1e9:.2f} GB -> {dest}", file=sys.stderr)
    dest.mkdir(parents=True, exist_ok=True)
    known = (read_manifest(dest) or {}).get("files", {})
    recorded: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(names, 1):
        print(f"[{index}/{len(names)}] {name} ({remote[name].size / 1e6:.1f} MB)", file=sys.stderr)
        recorded[name] = _fetch(repo, sha, dest, remote[name], known.get(name))
    return write_manifest(dest, repo, sha, recorded)


def _fetch(repo: str, sha: str, dest: Path, file: RemoteFile, known: dict[str, Any] | None) -> dict[str, Any]:
    from huggingface_hub import hf_hub_download

    local = dest / file.name
    if known and local.is_file() and local.stat().st_size == file.size == known.get("size") and (
        not file.sha256 or file.sha256 == known.get("sha256")
    ):
        return dict(known)  # already complete and checked
    try:
        hf_hub_download(repo, file.name, revision=sha, local_dir=dest)
    except Exception as err:
        if _is_network_error(err):
            raise AssistantError(offline_message(repo, dest, _reason(err)) + "; run pull again to resume") from err
        raise AssistantError(f"downloading {file.name} failed: {_reason(err)}") from err
    digest = sha256_file(local)
    if file.sha256 and digest != file.sha256:
        local.unlink(missing_ok=True)
        raise AssistantError(f"{local}: checksum mismatch after download (deleted; run pull again)")
    return {"size": local.stat().st_size, "sha256": digest}


GGUF_REL = "gguf/model.gguf"


def pull_gguf(source: str, dest: Path, revision: str | None = None) -> Path:
    """Fetch ``REPO:FILE`` (a GGUF on the hub) as ``dest/gguf/model.gguf``, checksum checked and recorded."""
    repo, _, name = source.partition(":")
    if not repo or not name.endswith(".gguf"):
        raise AssistantError(f"--gguf {source}: give the repository and the file, REPO:FILE.gguf")
    try:
        sha, remote = _remote_files(repo, revision)
    except Exception as err:
        if _is_network_error(err):
            raise AssistantError(f"cannot reach the Hugging Face hub for {repo} ({_reason(err)}); download {name} "
                                 f"elsewhere, copy it to {dest / GGUF_REL} or set model.gguf") from err
        raise AssistantError(f"the hub refused {repo}: {_reason(err)}") from err
    file = remote.get(name)
    if file is None:
        raise AssistantError(f"{repo} has no {name}")
    if not file.sha256:
        raise AssistantError(f"the hub gives no SHA-256 for {repo}/{name}: not pulled (it could not be checked)")
    target = dest / GGUF_REL
    known = (read_manifest(dest) or {}).get("files", {}).get(GGUF_REL) if (dest / "manifest.json").is_file() else None
    if known and target.is_file() and target.stat().st_size == file.size and known.get("sha256") == file.sha256:
        return dest / "manifest.json"  # already complete and checked
    print(f"{repo}@{sha[:12]}: {name} ({file.size / 1e9:.2f} GB) -> {target}", file=sys.stderr)
    fetched = _fetch(repo, sha, dest / "gguf", file, None)  # checked against the hub's SHA-256 (else deleted)
    (dest / "gguf" / name).replace(target)
    shutil.rmtree(dest / "gguf" / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    manifest = read_manifest(dest) or {"repo": repo, "revision": sha, "files": {}}
    entry = {**fetched, "source": f"{repo}@{sha}:{name}"}
    return write_manifest(dest, str(manifest.get("repo", repo)), str(manifest.get("revision", sha)), {GGUF_REL: entry})
