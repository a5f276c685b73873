"""Is the loaded llama.cpp built for this CPU? (the llama.cpp backend and the peer benchmark ask)

A generic build (``pip install llama-cpp-python`` without flags) lacks the SIMD features this CPU has
and runs far slower; :func:`check_native` compares the features the loaded library was compiled with
(``llama_print_system_info``) against ``/proc/cpuinfo``. The native build is ``scripts/setup``'s
(``CMAKE_ARGS="-DGGML_NATIVE=ON ..."``).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

SETUP_HINT = "build it for this CPU with scripts/setup --test (CMAKE_ARGS=-DGGML_NATIVE=ON)"

# /proc/cpuinfo flag -> the name llama.cpp's system info gives the same feature (x86 and Arm)
FEATURES = {"avx": "AVX", "avx2": "AVX2", "fma": "FMA", "f16c": "F16C", "bmi2": "BMI2", "avx_vnni": "AVX_VNNI",
            "avx512f": "AVX512", "avx512_vnni": "AVX512_VNNI", "avx512_bf16": "AVX512_BF16",
            "avx512vbmi": "AVX512_VBMI", "asimddp": "DOTPROD", "i8mm": "MATMUL_INT8", "sve": "SVE"}
# Built in, these crash: llama.cpp 0.3.36's AMX kernels fault at the first matrix product (the tile configuration
# is optimised away: ggml-org/llama.cpp#20824, #26954), so scripts/setup leaves them out with -mno-amx-*.
CRASHING = {"AMX_INT8": "its AMX kernels crash at the first matrix product (ggml-org/llama.cpp#20824)"}


def missing_features(system_info: str, cpu_flags: set[str]) -> list[str]:
    """Features this CPU has (``cpu_flags``) that the llama.cpp build does not use (``system_info``)."""
    enabled = {part.split("=")[0].strip() for part in system_info.replace("|", "\n").splitlines()
               if part.strip().endswith("= 1")}
    return sorted(name for flag, name in FEATURES.items() if flag in cpu_flags and name not in enabled)


def crashing_features(system_info: str) -> list[str]:
    """Features built into this llama.cpp that crash it (``CRASHING``), each with why."""
    return [f"{name}: {why}" for name, why in CRASHING.items() if f"{name} = 1" in system_info]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def check_native() -> str:
    """The loaded llama.cpp's system info; ``AssistantError`` when it is missing or not built for this CPU."""
    try:
        import llama_cpp  # optional: only the llama.cpp backend and the peer benchmark need it
    except ImportError as exc:
        raise AssistantError(f"llama.cpp needs llama-cpp-python ({exc}); {SETUP_HINT}") from exc
    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    crashing = crashing_features(info)
    if crashing:
        raise AssistantError(f"llama.cpp here is built with {'; '.join(crashing)}; {SETUP_HINT}")
    missing = missing_features(info, cpu_flags())
    if missing:
        raise AssistantError(f"llama.cpp here is a generic build without {', '.join(missing)} (this CPU has them): "
                             f"not a fair peer; {SETUP_HINT}")
    return info


_QUIET: Any = None


def quiet(lib: Any) -> None:
    """Route llama.cpp's log lines below errors away (the engine logs what matters itself)."""
    global _QUIET
    if _QUIET is None:
        def drop(level: int, text: bytes, _user: Any) -> None:
            if level >= 4:  # GGML_LOG_LEVEL_ERROR
                os.write(2, text)
        _QUIET = lib.llama_log_callback(drop)
        lib.llama_log_set(_QUIET, ctypes.c_void_p(0))
