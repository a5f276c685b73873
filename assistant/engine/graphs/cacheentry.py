"""Cache entries built whole or not at all: a temporary folder renamed into place when complete."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def building(entry: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``entry`` to build it in; renamed to ``entry`` when the block ends
    without an error (if another process finished the same entry first, its copy stays), removed otherwise."""
    tmp = entry.parent / f".{entry.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.rename(tmp, entry)
    except OSError:  # another process wrote the same entry first
        shutil.rmtree(tmp, ignore_errors=True)
