"""Choosing the compute device and its precision, in one place for the job, the service and benchmarks."""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

DeviceName = Literal["auto", "cpu", "cuda"]


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else the CPU; ``cuda`` without a GPU is an error (``RuntimeError``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was requested but no CUDA device is available")
    return torch.device(name)


def compute_dtype(device: torch.device) -> torch.dtype:
    """The precision of the batch job: bfloat16 on CUDA, full float32 on the CPU (docs/architecture.md#precision)."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager[None]:
    """Autocast to ``dtype`` on ``device`` when it is a reduced precision; nothing for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
