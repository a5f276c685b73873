"""Checks of the machine: CPU, memory, disk, state directory, the systemd unit.

The limits are the defaults until the hardware profiles (``hardware/``) give per-board
figures: Gemma 4 E2B in q4 needs about 2.5 GiB resident (decoder ≈1.3 GB, audio encoder
and the memory-mapped embeddings), a Pi 5 has 4 Cortex-A76 cores, the model files take ≈4 GB.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

from assistant.config import Config, model_dir, state_dir
from assistant.service.doctor import Result

GIB = 1024**3
MIN_TOTAL_GIB, GOOD_TOTAL_GIB, GOOD_AVAILABLE_GIB = 1.8, 3.5, 2.5
MODEL_DISK_GIB, SPARE_DISK_GIB = 4.0, 0.5
UNIT_PATHS = (Path("/etc/systemd/system/assistant.service"), Path("~/.config/systemd/user/assistant.service"))


def cpu(config: Config) -> Result:
    cores = os.cpu_count() or 1
    arch = platform.machine()
    name = board_name() or cpu_name() or arch
    detail = f"{cores} cores, {arch}, {name}"
    if arch not in ("aarch64", "arm64", "x86_64", "AMD64"):
        return Result.fail(detail, "install a 64-bit OS (Raspberry Pi OS 64-bit): ONNX Runtime needs it")
    if cores < 4:
        return Result.warn(detail, "replies will be slow with fewer than 4 cores; a Raspberry Pi 5 has 4")
    return Result.ok(detail)


def board_name() -> str:
    try:
        return Path("/proc/device-tree/model").read_text(errors="replace").rstrip("\0\n")
    except OSError:
        return ""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def meminfo(path: Path = Path("/proc/meminfo")) -> dict[str, int]:
    """``/proc/meminfo`` in bytes."""
    values = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values


def memory(config: Config) -> Result:
    info = meminfo()
    total, available = info.get("MemTotal", 0) / GIB, info.get("MemAvailable", 0) / GIB
    detail = f"{total:.1f} GiB total, {available:.1f} GiB available"
    if total < MIN_TOTAL_GIB:
        return Result.fail(detail, f"Gemma 4 E2B needs at least {MIN_TOTAL_GIB} GiB of RAM; use a Pi with 4 GB or more")
    if total < GOOD_TOTAL_GIB:
        return Result.warn(detail, "tight for the model: use q4 for every model.*_precision and close other programs")
    if available < GOOD_AVAILABLE_GIB:
        return Result.warn(detail, f"less than {GOOD_AVAILABLE_GIB} GiB free: stop other programs before starting")
    return Result.ok(detail)


def disk(config: Config) -> Result:
    where = model_dir(config)
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / GIB
    has_model = where.is_dir() and any(where.iterdir())
    need = SPARE_DISK_GIB if has_model else MODEL_DISK_GIB
    detail = f"{free:.1f} GiB free at {probe}" + ("" if has_model else " (model not there yet)")
    if free < need:
        return Result.fail(detail, f"free at least {need:.1f} GiB there, or set model.dir to a bigger disk")
    return Result.ok(detail)


def state_directory(config: Config) -> Result:
    from assistant.config.validate import directory_problem  # the same check ``config check`` and ``run`` make

    path = state_dir(config)
    problem = directory_problem(path)
    if problem:
        return Result.fail(f"{path}: {problem}", "set service.state_dir to a writable directory, or fix its owner")
    return Result.ok(f"{path} is writable" + ("" if path.is_dir() else " (created on first run)"))


def service_unit(config: Config) -> Result:
    if os.environ.get("INVOCATION_ID") and os.environ.get("NOTIFY_SOCKET"):
        return Result.ok("running under systemd")
    found = [p.expanduser() for p in UNIT_PATHS if p.expanduser().is_file()]
    if found:
        return Result.ok(f"installed: {found[0]}")
    return Result.warn("no assistant.service installed", "to start it at boot run 'sudo systemd/install.sh' "
                       "(or 'systemd/install.sh --user' on a PipeWire desktop)")


def hardware_profile(config: Config) -> Result:
    """The hardware profile (``service.hardware_profile``) and this machine's CPU and RAM against it."""
    from assistant.errors import AssistantError
    from assistant.hardware import detect, resolve
    from assistant.hardware.report import warnings

    machine = detect(models_dir=model_dir(config))
    try:
        profile = resolve(config.service.hardware_profile, machine)
    except AssistantError as err:
        return Result.warn(str(err), "set service.hardware_profile to a name listed by 'assistant hardware'")
    threads = profile.threads_for(machine)
    detail = (f"{profile.name}: {machine.cores} cores (uses {threads}), {machine.nominal_ram_gb} GB RAM, "
              f"model {profile.engine_model} in {profile.decoder_precision}")
    low, _high = profile.ram_gb
    if machine.nominal_ram_gb < low:
        return Result.fail(detail, f"the {profile.name} profile needs {low:g} GB of RAM or more; pick a smaller "
                                   "profile with service.hardware_profile ('assistant hardware' recommends one)")
    if machine.cores < threads:
        return Result.warn(detail, f"the profile runs {threads} threads on {machine.cores} cores; set model.threads")
    problems = warnings(machine, profile)
    if problems:
        return Result.warn(detail, "; ".join(problems))
    return Result.ok(detail)
