"""The setup scripts and the packaging metadata (issues 12 and 18).

The scripts themselves are proven end to end by ``scripts/fresh-root`` (a fresh Debian 12 root, both README
commands); these checks keep the cheap parts from regressing between such runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
import warnings

import pytest

from .conftest import ROOT

SCRIPTS = ("setup", "start", "test", "fresh-root")


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_parse(name):
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run([bash, "-n", str(ROOT / "scripts" / name)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_pyproject_applies_without_setuptools_warnings(monkeypatch):
    """The `project.license` table form made every install print ~45 lines of deprecation warnings."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), "pyproject.toml")
    assert dist.get_name() == "assistant"


def test_llama_cpp_is_built_for_this_cpu_with_nothing_x86_specific():
    setup = (ROOT / "scripts" / "setup").read_text()
    args = re.search(r'cmake_args="([^"]*)"', setup)
    assert args is not None
    flags = args.group(1).split()
    assert "-DGGML_NATIVE=ON" in flags
    assert not [f for f in flags if re.match(r"-DGGML_(AVX|AVX2|AVX512|FMA|F16C)=", f)]
    assert "--no-cache-dir" in setup and "--no-binary llama-cpp-python" in setup  # never pip's generic cached wheel
    # AMX kernels crash in this llama.cpp: left out on x86_64 only (an Arm compiler rejects -mno-amx-*)
    x86 = re.search(r'\[\[ \$arch == x86_64 \]\] && cflags="([^"]*)"', setup)
    assert x86 is not None and set(x86.group(1).split()) == {"-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16"}
    assert 'CFLAGS="$cflags" CXXFLAGS="$cflags"' in setup


def test_torch_pins_agree_between_setup_and_pyproject():
    setup = (ROOT / "scripts" / "setup").read_text()
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    pins = {req.split(";")[1].strip(): req.split(";")[0].strip() for req in test_extra if req.startswith("torch")}
    assert pins == {"platform_machine != 'aarch64'": "torch==2.13.0", "platform_machine == 'aarch64'": "torch==2.10.0"}
    for spec in pins.values():
        assert f'torch_spec="{spec}"' in setup
