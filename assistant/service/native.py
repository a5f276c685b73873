"""Import the native libraries in a child process first, so that a crash names the library.

A native library that crashes while loading (a segmentation fault in onnxruntime on an unexpected CPU,
a broken PortAudio, the wake-word runtime) would kill the assistant with no message at all. The child
imports each module in turn and announces it first, so the parent knows which one it died in and says
so in one line. Used by ``assistant doctor`` and at the start of ``assistant run``; it costs one Python
start-up and the imports themselves (about a second on a Pi 5).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.config import Config
from assistant.errors import AssistantError
from assistant.service.doctor import Result

# (module, what the user knows it as)
NATIVE_MODULES: tuple[tuple[str, str], ...] = (
    ("numpy", "NumPy"),
    ("onnxruntime", "ONNX Runtime (onnxruntime)"),
    ("sounddevice", "PortAudio (sounddevice)"),
    ("webrtcvad", "the WebRTC VAD (webrtcvad-wheels)"),
    ("pymicro_wakeword", "the wake-word runtime (pymicro-wakeword)"),
)

_CHILD = """
import importlib, sys
for name in sys.argv[1:]:
    print("importing " + name, flush=True)
    try:
        importlib.import_module(name)
    except BaseException as err:
        text = (str(err).splitlines() or [""])[0]
        print("error " + name + " " + type(err).__name__ + (": " + text if text else ""), flush=True)
print("done", flush=True)
"""


@dataclass(frozen=True)
class NativeProblem:
    """A module that could not be imported; ``crashed`` when it killed the process."""

    module: str
    label: str
    detail: str
    crashed: bool

    def line(self) -> str:
        if self.crashed:
            return f"{self.label} crashes the process when it loads ({self.detail}); the assistant cannot start"
        return f"{self.label} cannot be imported: {self.detail}"


class NativeLibraryError(AssistantError):
    """A native library crashes or is missing: the assistant cannot start."""


def probe(modules: Sequence[tuple[str, str]] = NATIVE_MODULES, timeout_s: float = 120.0,
          env: Mapping[str, str] | None = None) -> list[NativeProblem]:
    """Import ``modules`` in order in one child process; every problem found, a crash stopping the list."""
    labels = dict(modules)
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, *labels], capture_output=True, text=True,
                              timeout=timeout_s, env=dict(env) if env is not None else None, check=False)
    except subprocess.TimeoutExpired:
        return [NativeProblem("", "the native libraries", f"importing them took over {timeout_s:.0f} s", False)]
    problems: list[NativeProblem] = []
    current = ""
    for line in done.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word == "importing":
            current = rest
        elif word == "error":
            name, _, detail = rest.partition(" ")
            problems.append(NativeProblem(name, labels.get(name, name), detail, False))
        elif word == "done":
            current = ""
    if done.returncode != 0 and current:
        problems.append(NativeProblem(current, labels.get(current, current), _death(done.returncode), True))
    elif done.returncode != 0:
        problems.append(NativeProblem("", "the Python interpreter", _death(done.returncode), True))
    return problems


def require_native_libraries(modules: Sequence[tuple[str, str]] = NATIVE_MODULES) -> None:
    """Raise one line naming the first library that crashes the process on import (start-up check)."""
    crashed = [p for p in probe(modules) if p.crashed]
    if crashed:
        raise NativeLibraryError(crashed[0].line() + " (run 'assistant doctor')")


def _death(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        meaning = {"SIGSEGV": "segmentation fault", "SIGILL": "illegal instruction: built for another CPU",
                   "SIGBUS": "bus error", "SIGABRT": "aborted"}.get(name, "killed")
        return f"{name}, {meaning}"
    return f"exit status {returncode}"


def doctor_check(config: Config) -> Result:
    """``assistant doctor``: every native library imports in a child process."""
    problems = probe()
    if not problems:
        return Result.ok(", ".join(label.split(" (")[0] for _, label in NATIVE_MODULES) + " load")
    fix = ("reinstall it (scripts/setup), or report the crash with 'assistant hardware' output"
           if any(p.crashed for p in problems) else "run scripts/setup again")
    return Result.fail("; ".join(p.line() for p in problems), fix)
