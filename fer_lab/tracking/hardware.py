"""Describe the machine a run trains on, so every logged time and throughput says where it was measured."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# Widest first: /proc/cpuinfo flag, name in descriptions. bf16 matters for trainer.precision=mixed_bfloat16.
_VECTOR_FLAGS = (
    ("amx_bf16", "AMX-BF16"),
    ("avx512_bf16", "AVX-512 with BF16"),
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
    ("asimd", "NEON"),
)


def hardware_tags() -> dict[str, str]:
    """`hardware` (GPUs, else `cpu_description()`) and `keras_backend` tags for a run."""
    import keras

    backend = keras.backend.backend()
    gpus = _gpus(backend)
    hardware = f"{len(gpus)}x {gpus[0]}" if gpus else cpu_description()
    return {"hardware": hardware, "keras_backend": backend}


def cpu_description(cpuinfo: str | None = None) -> str:
    """`2 CPU cores (AMD EPYC 9B14; AVX-512)`: usable cores, CPU model and its widest vector instructions.

    The instruction set sets CPU training speed here (the same net trains 3x faster on 2 AVX-512 cores than on 2
    AVX2 cores), so every CPU time and throughput names it. `cpuinfo` is /proc/cpuinfo's text (read when None).
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)  # the last core's values
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())  # Features: ARM's name
    widest = next((f"; {name}" for flag, name in _VECTOR_FLAGS if flag in flags), "")
    return f"{_usable_cores()} CPU cores ({model}{widest})"


def _gpus(backend: str) -> list[str]:
    try:
        if backend == "jax":
            import jax

            return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        if backend == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        import tensorflow as tf

        return [
            (tf.config.experimental.get_device_details(d).get("device_name") or d.name)
            for d in tf.config.list_physical_devices("GPU")
        ]
    except Exception:  # a broken driver must not stop training; the tag then says CPU
        return []


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
