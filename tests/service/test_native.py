"""A native library that crashes while loading is named in one line, by doctor and at start-up (issue 18).

The crash is real: a module that dereferences a null pointer through ctypes (a FakeCrashingLibrary, named
as such), put first on the child's path, in place of a real native module for the end-to-end checks.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assistant.service.native import NATIVE_MODULES, NativeLibraryError, probe, require_native_libraries

from ..conftest import ROOT

FAKE_CRASHING_LIBRARY = '"""FakeCrashingLibrary: segfaults on import, on purpose."""\nimport ctypes\nctypes.string_at(0)\n'


@pytest.fixture
def crash_path(tmp_path):
    (tmp_path / "fake_crashing_library.py").write_text(FAKE_CRASHING_LIBRARY)
    (tmp_path / "webrtcvad.py").write_text(FAKE_CRASHING_LIBRARY)  # shadows the real one, end to end
    return tmp_path


def test_the_real_native_libraries_load():
    assert probe() == []


def test_a_crash_names_the_module_it_happened_in(crash_path):
    modules = [("json", "JSON"), ("fake_crashing_library", "FakeCrashingLibrary"), ("csv", "CSV")]
    problems = probe(modules, env={**os.environ, "PYTHONPATH": str(crash_path)})
    assert len(problems) == 1  # the import after the crash never ran
    problem = problems[0]
    assert problem.crashed and problem.module == "fake_crashing_library"
    assert "SIGSEGV" in problem.detail
    line = problem.line()
    assert "FakeCrashingLibrary" in line and "segmentation fault" in line and "\n" not in line


def test_a_missing_module_is_a_problem_not_a_crash():
    problems = probe([("no_such_native_library", "NoSuch"), ("json", "JSON")])
    assert [(p.module, p.crashed) for p in problems] == [("no_such_native_library", False)]
    assert "ModuleNotFoundError" in problems[0].line()


def test_start_up_check_raises_one_line(crash_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(crash_path))
    with pytest.raises(NativeLibraryError) as caught:
        require_native_libraries([("fake_crashing_library", "FakeCrashingLibrary")])
    assert str(caught.value).startswith("FakeCrashingLibrary crashes the process when it loads (SIGSEGV")
    require_native_libraries([("json", "JSON")])  # nothing to say


def _cli(crash_path, tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(PYTHONPATH=f"{crash_path}{os.pathsep}{ROOT}", HOME=str(tmp_path / "home"))
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_doctor_and_run_name_the_crashing_library(crash_path, tmp_path):
    label = dict(NATIVE_MODULES)["webrtcvad"]
    doctor = _cli(crash_path, tmp_path, "doctor", "--only", "native libraries")
    assert doctor.returncode == 1
    failed = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1 and label in failed[0] and "SIGSEGV, segmentation fault" in failed[0]
    run = _cli(crash_path, tmp_path, "run")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"assistant: error: {label} crashes the process when it loads (SIGSEGV, segmentation fault); "
        "the assistant cannot start (run 'assistant doctor')"]
