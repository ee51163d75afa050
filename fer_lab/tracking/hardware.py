"""Describe the machine a run trains on, so every logged time and throughput says where it was measured."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def hardware_tags() -> dict[str, str]:
    """`hardware` (GPUs, else usable CPU cores and model) and `keras_backend` tags for a run."""
    import keras

    backend = keras.backend.backend()
    gpus = _gpus(backend)
    hardware = f"{len(gpus)}x {gpus[0]}" if gpus else f"{_usable_cores()} CPU cores ({_cpu_model()})"
    return {"hardware": hardware, "keras_backend": backend}


def _gpus(backend: str) -> list[str]:
    try:
        if backend == "jax":
            import jax

            return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        if backend == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        import tensorflow as tf

        return [(tf.config.experimental.get_device_details(d).get("device_name") or d.name)
                for d in tf.config.list_physical_devices("GPU")]
    except Exception:  # a broken driver must not stop training; the tag then says CPU
        return []


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
