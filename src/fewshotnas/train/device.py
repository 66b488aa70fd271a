"""Device choice and per-process torch settings."""

from __future__ import annotations

import os

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cpu``/``cuda``/``cuda:N`` as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available here; use cpu or auto (config key "
                           "`device`, CLI option --device)")
    return device


def configure_torch(threads: int | None = None, seed: int | None = None) -> None:
    """Set the intra-op thread count (default: $OMP_NUM_THREADS or all cores) and seed torch."""
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS")
        threads = int(env) if env else None
    if threads:
        torch.set_num_threads(max(1, threads))
    if seed is not None:
        torch.manual_seed(seed)


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA; a disabled context on CPU (CPU runs stay float32)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def describe_runtime(device: torch.device) -> str:
    """One line for the job log: device (with its name on CUDA), compute dtype, torch
    version and intra-op threads."""
    name = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    dtype = "bf16 autocast" if device.type == "cuda" else "float32"
    return f"device {device}{name}, {dtype}, torch {torch.__version__}, {torch.get_num_threads()} threads"
