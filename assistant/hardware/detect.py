"""Detect the machine: board, CPU, cores, features, RAM, GPUs and free disk for models.

Everything is read below ``root`` (``/`` normally), so tests can point it at fixture
files: ``proc/cpuinfo``, ``proc/meminfo``, ``proc/device-tree/model``,
``proc/driver/nvidia/gpus/*/information`` and ``sys/class/drm/card*/device/mem_info_vram_total``.
NVIDIA memory sizes come from ``nvidia-smi`` when it exists and ``root`` is ``/``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024**3
STANDARD_RAM_GB = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024)
# CPU features that matter for local inference, and what they mean.
INTERESTING_FEATURES = {
    "asimd": "NEON",
    "asimddp": "int8 dot product (SDOT)",
    "i8mm": "int8 matrix multiply",
    "fphp": "fp16 arithmetic",
    "asimdhp": "fp16 SIMD",
    "bf16": "bfloat16",
    "sve": "SVE",
    "avx2": "AVX2",
    "fma": "FMA",
    "f16c": "fp16 conversion",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI (int8)",
    "avx_vnni": "AVX-VNNI (int8)",
    "amx_int8": "AMX int8",
}


@dataclass(frozen=True)
class Gpu:
    """One GPU with dedicated memory."""

    vendor: str
    name: str
    vram_gb: float


@dataclass(frozen=True)
class Machine:
    """What :func:`detect` found."""

    arch: str
    board: str
    model: str
    cpu: str
    cores: int
    features: tuple[str, ...]
    ram_gb: float
    nominal_ram_gb: int
    disk_free_gb: float
    disk_path: str
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)

    @property
    def vram_gb(self) -> float:
        """Memory of the largest GPU (0 without one)."""
        return max((g.vram_gb for g in self.gpus), default=0.0)

    @property
    def is_pi(self) -> bool:
        return self.board.startswith("pi")


def detect(root: Path = Path("/"), models_dir: Path | None = None, arch: str | None = None) -> Machine:
    """Describe this machine (or the one whose files lie under ``root``)."""
    cpuinfo = _read(root / "proc/cpuinfo")
    model = (_read(root / "proc/device-tree/model").replace("\x00", "").strip() or _cpuinfo_field(cpuinfo, "Model")
             or _read(root / "sys/class/dmi/id/product_name").strip())
    ram_gb = _meminfo_kb(_read(root / "proc/meminfo"), "MemTotal") / 1024**2
    cores = len(re.findall(r"^processor\s*:", cpuinfo, re.M)) or (os.cpu_count() or 1)
    features = _features(cpuinfo)
    machine_arch = arch or _arch(cpuinfo, root)
    disk_path = _existing(models_dir or Path.home())
    free = shutil.disk_usage(disk_path).free / GIB
    return Machine(
        arch=machine_arch,
        board=board_of(model, machine_arch),
        model=model or platform.node(),
        cpu=_cpu_name(cpuinfo),
        cores=cores,
        features=features,
        ram_gb=round(ram_gb, 2),
        nominal_ram_gb=nominal_ram(ram_gb),
        disk_free_gb=round(free, 1),
        disk_path=str(disk_path),
        gpus=tuple(_gpus(root)),
    )


def board_of(model: str, arch: str) -> str:
    """``pi5``, ``pi4``, ``pi`` (older), ``arm64``, ``x86`` or ``other``."""
    text = model.lower()
    if re.search(r"raspberry pi 5|raspberry pi 500|compute module 5", text):
        return "pi5"
    if re.search(r"raspberry pi 4|raspberry pi 400|compute module 4", text):
        return "pi4"
    if "raspberry pi" in text:
        return "pi"
    if arch in ("x86_64", "amd64", "i686"):
        return "x86"
    if arch in ("aarch64", "arm64"):
        return "arm64"
    return "other"


def nominal_ram(ram_gb: float) -> int:
    """The marketed size: the smallest standard size at least ``MemTotal`` (firmware keeps some back)."""
    return next((size for size in STANDARD_RAM_GB if size >= ram_gb - 0.05), round(ram_gb))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpuinfo_field(cpuinfo: str, name: str) -> str:
    found = re.search(rf"^{re.escape(name)}\s*:\s*(.+)$", cpuinfo, re.M)
    return found.group(1).strip() if found else ""


def _meminfo_kb(meminfo: str, name: str) -> int:
    found = re.search(rf"^{name}:\s*(\d+)\s*kB", meminfo, re.M)
    return int(found.group(1)) if found else 0


def _features(cpuinfo: str) -> tuple[str, ...]:
    line = _cpuinfo_field(cpuinfo, "flags") or _cpuinfo_field(cpuinfo, "Features")
    return tuple(sorted(set(line.split()) & set(INTERESTING_FEATURES)))


def _arch(cpuinfo: str, root: Path) -> str:
    if root != Path("/"):
        return "aarch64" if _cpuinfo_field(cpuinfo, "CPU architecture") == "8" else "x86_64"
    return platform.machine()


ARM_PARTS = {"0xd03": "Cortex-A53", "0xd08": "Cortex-A72", "0xd0b": "Cortex-A76", "0xd05": "Cortex-A55"}


def _cpu_name(cpuinfo: str) -> str:
    name = _cpuinfo_field(cpuinfo, "model name")
    if name:
        return " ".join(name.split())
    part = _cpuinfo_field(cpuinfo, "CPU part")
    return ARM_PARTS.get(part, f"ARM part {part}" if part else "unknown CPU")


def _existing(path: Path) -> Path:
    path = path.expanduser()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _gpus(root: Path) -> list[Gpu]:
    gpus = _nvidia_smi() if root == Path("/") else []
    if not gpus:
        for info in sorted((root / "proc/driver/nvidia/gpus").glob("*/information")):
            name = _cpuinfo_field(_read(info), "Model") or "NVIDIA GPU"
            gpus.append(Gpu("nvidia", name, 0.0))
    for vram in sorted((root / "sys/class/drm").glob("card*/device/mem_info_vram_total")):
        try:
            size = int(_read(vram).strip() or 0) / GIB
        except ValueError:
            continue
        if size >= 1:
            gpus.append(Gpu("amd", vram.parent.parent.name, round(size, 1)))
    return gpus


def _nvidia_smi() -> list[Gpu]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, _, mib = line.rpartition(",")
        try:
            gpus.append(Gpu("nvidia", name.strip(), round(float(mib) / 1024, 1)))
        except ValueError:
            continue
    return gpus
