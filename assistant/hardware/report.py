"""Explain a machine and its recommended profile in plain lines (``assistant hardware``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from assistant.hardware.detect import INTERESTING_FEATURES, Machine
from assistant.hardware.profiles import Profile

ARM_WANTED = ("asimd", "asimddp", "fphp", "asimdhp", "i8mm")
X86_WANTED = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni")


def warnings(machine: Machine, profile: Profile | None) -> list[str]:
    """Problems worth fixing before running the assistant on this machine."""
    found = []
    if profile is None:
        found.append("no profile fits this machine: Gemma 4 E2B needs a Raspberry Pi 4/5 with 2 GB+ or an x86 machine "
                     "with 8 GB+; set service.hardware_profile by hand to try anyway")
    elif machine.disk_free_gb < profile.model_disk_gb:
        found.append(f"only {machine.disk_free_gb:g} GB free at {machine.disk_path}; the {profile.engine_model} model "
                     f"needs about {profile.model_disk_gb:g} GB")
    if machine.arch in ("aarch64", "arm64") and "asimddp" not in machine.features:
        found.append("this CPU has no int8 dot product (asimddp): quantized models run several times slower")
    if machine.board == "x86" and "avx2" not in machine.features:
        found.append("this CPU has no AVX2: ONNX Runtime and llama.cpp run far slower")
    if any(g.vram_gb == 0 for g in machine.gpus):
        found.append("GPU memory unknown (nvidia-smi missing?): pass --vram GB to plan for it")
    return found


def describe(machine: Machine, profile: Profile | None) -> list[str]:
    """Human-readable report lines."""
    wanted = ARM_WANTED if machine.arch in ("aarch64", "arm64") else X86_WANTED
    have = [f"{INTERESTING_FEATURES[f]} ({f})" for f in wanted if f in machine.features]
    missing = [f for f in wanted if f not in machine.features]
    gpus = ", ".join(f"{g.name} ({g.vram_gb:g} GB)" if g.vram_gb else g.name for g in machine.gpus) or "none"
    lines = [
        "Machine",
        f"  board      {machine.model} ({machine.board})",
        f"  CPU        {machine.cpu}, {machine.cores} cores, {machine.arch}",
        f"  features   {', '.join(have) or 'none of interest'}" + (f"; missing: {', '.join(missing)}" if missing else ""),
        f"  memory     {machine.ram_gb:.1f} GB usable, nominally {machine.nominal_ram_gb} GB",
        f"  GPU        {gpus}",
        f"  free disk  {machine.disk_free_gb:g} GB at {machine.disk_path}",
    ]
    if profile is None:
        lines.append("Recommended profile: none")
    else:
        lines += [
            f"Recommended profile: {profile.name}",
            f"  {profile.description}",
            f"  engine     {profile.engine_model}, {profile.threads_for(machine)} threads, decoder {profile.decoder_precision}, "
            f"embeddings {profile.embed_precision}, audio encoder {profile.audio_precision}",
            f"  on this machine   {', '.join(profile.local_tiers)}",
            f"  remote tiers      {', '.join(profile.remote_tiers) or 'none needed'}",
            *(f"  note: {n}" for n in profile.notes),
            f'Use it: service.hardware_profile = "{profile.name}" (or keep "auto").',
            f"Get its model: assistant models pull {profile.engine_model}"
            + (" (then set model.dir as it says)" if profile.engine_model != "e2b" else ""),
        ]
    lines += [f"warning: {w}" for w in warnings(machine, profile)]
    return lines


def as_dict(machine: Machine, profile: Profile | None) -> dict[str, Any]:
    """The same, for ``--json``."""
    prof = dataclasses.asdict(profile) if profile else None
    if prof is not None:
        prof["threads_resolved"] = profile.threads_for(machine) if profile else 0
        prof["ram_gb"] = [_finite(v) for v in prof["ram_gb"]]
        prof["vram_gb"] = [_finite(v) for v in prof["vram_gb"]]
    return {"machine": dataclasses.asdict(machine), "profile": prof, "warnings": warnings(machine, profile)}


def _finite(value: float) -> float | None:
    return None if value == float("inf") else value
