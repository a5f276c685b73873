"""Give back the clean file pages of a graph's weights that ONNX Runtime read while repacking them.

At load, ONNX Runtime repacks every ``MatMulNBits`` weight into a heap copy (the layout its kernels
read) and leaves part of the memory-mapped originals resident: on the shape-faithful E2B about
0.27 GB of the decoder's external data and 0.04 GB of the audio encoder's, which no decode step
reads again. :func:`release_clean_pages` asks the kernel to drop them (``madvise(MADV_DONTNEED)``).

It only touches mappings of the given files that hold no private (copy-on-write) pages, so nothing
can be lost: a dropped page of a private file mapping that was never written is read back from the
file if it is ever touched again (ONNX Runtime treats initializers as constants and never writes
them). Linux only; elsewhere it does nothing.

:class:`ReleasingPages` also runs it every ``interval`` seconds in a thread while a session loads
(ONNX Runtime releases the GIL there; the thread uses ``MADV_PAGEOUT``, safe while ONNX Runtime maps
and unmaps memory), so the originals already repacked do not pile up on top of
the growing heap copy: on E2B this cuts the load peak, which is the process's peak RSS.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

log = logging.getLogger("assistant.engine")

MADV_DONTNEED = 4
MADV_PAGEOUT = 21  # Linux 5.4+: reclaim the pages; never discards data, so safe while other threads map memory
SMAPS = "/proc/self/smaps"


@dataclass
class Mapping:
    """One mapping of a file in this process, as ``/proc/self/smaps`` lists it."""

    start: int
    end: int
    path: str
    rss: int = 0
    private_anon: int = 0  # "Anonymous:" bytes: copy-on-write pages that exist only in memory


def file_mappings(paths: Iterable[Path]) -> list[Mapping]:
    """This process's mappings of ``paths`` (resolved), with their resident and anonymous bytes."""
    wanted = {str(Path(p).resolve()) for p in paths}
    found: list[Mapping] = []
    current: Mapping | None = None
    try:
        with open(SMAPS, encoding="utf-8") as fh:
            for line in fh:
                head = line.split(maxsplit=5)
                if head and not head[0].endswith(":"):
                    name = head[5].strip() if len(head) > 5 else ""
                    start, end = (int(x, 16) for x in head[0].split("-"))
                    current = Mapping(start, end, name) if name in wanted else None
                    if current is not None:
                        found.append(current)
                elif current is not None and head and head[0] in ("Rss:", "Anonymous:"):
                    value = int(head[1]) * 1024
                    if head[0] == "Rss:":
                        current.rss = value
                    else:
                        current.private_anon = value
    except OSError:
        return []
    return found


def release_clean_pages(paths: Iterable[Path], advice: int = MADV_DONTNEED) -> int:
    """Drop the resident pages of every clean mapping of ``paths``; the bytes that were resident.

    ``MADV_DONTNEED`` (the default) only when no other thread can unmap and remap memory meanwhile:
    on a range reused by ``malloc`` it would zero live heap. ``MADV_PAGEOUT`` is safe at any time.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    released = 0
    for m in file_mappings(paths):
        if m.rss == 0 or m.private_anon:
            continue
        if madvise(m.start, m.end - m.start, advice) == 0:
            released += m.rss
        else:
            log.debug("madvise(%s, %d) failed: errno %d", m.path, advice, ctypes.get_errno())
            return released
    return released


def external_data_files(graph: Path) -> list[Path]:
    """The external-data files ``graph`` names (resolved inside its folder)."""
    from assistant.engine.graphs.onnxfile import read_onnx_info

    base = graph.parent
    return sorted({(base / ref.location).resolve() for ref in read_onnx_info(graph).external})


class ReleasingPages:
    """Context manager: :func:`release_clean_pages` every ``interval`` s while it is open, and once at exit.

    The thread runs while ONNX Runtime maps and unmaps memory, so it uses ``MADV_PAGEOUT`` (which never
    loses data if a range was reused meanwhile, but skips pages mapped twice); the final release, after
    the load returned, uses ``MADV_DONTNEED``: no other thread may load a graph at that moment.
    """

    def __init__(self, paths: Iterable[Path], interval: float = 0.1) -> None:
        self.paths = list(paths)
        self.interval = interval
        self.released = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="release-weight-pages", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.released += release_clean_pages(self.paths, MADV_PAGEOUT)

    def __enter__(self) -> ReleasingPages:
        if self.paths:
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.released += release_clean_pages(self.paths)
