"""Choosing the compute device and its precision, in one place for the job, the service and benchmarks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal, get_args

import torch

DeviceName = Literal["auto", "cpu", "cuda"]

#: How the job scores (docs/architecture.md#precision): ``bf16`` runs the model under bfloat16 autocast
#: and projects in bfloat16; ``tf32`` keeps float32 tensors but lets CUDA's matmuls and convolutions
#: round their inputs to TF32; ``fp32`` is float32 throughout, full-precision matmuls included.
Precision = Literal["bf16", "tf32", "fp32"]
PrecisionName = Literal["auto", "bf16", "tf32", "fp32"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)

#: The unit roundoff of each precision's matmul inputs (half the spacing of the significand):
#: bfloat16 keeps 8 significant bits, TF32 11, float32 24.
UNIT_ROUNDOFF: dict[Precision, float] = {"bf16": 2.0**-8, "tf32": 2.0**-11, "fp32": 2.0**-24}


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else the CPU; ``cuda`` without a GPU is an error (``RuntimeError``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was requested but no CUDA device is available")
    return torch.device(name)


def resolve_precision(name: PrecisionName, device: torch.device) -> Precision:
    """``auto`` → ``bf16`` on CUDA, ``fp32`` on the CPU. ``tf32`` on the CPU is ``fp32``: TF32 is a mode
    of CUDA's matmuls, and the CPU computes float32 in full either way. ``bf16`` on the CPU is allowed
    (autocast to bfloat16 there is correct, but rarely faster than float32)."""
    if name == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if name == "tf32" and device.type != "cuda":
        return "fp32"
    return name


def precision_dtype(precision: Precision) -> torch.dtype:
    """The dtype the model runs under (autocast) and the projections use."""
    return torch.bfloat16 if precision == "bf16" else torch.float32


def compute_dtype(device: torch.device) -> torch.dtype:
    """The default precision's dtype on ``device``: bfloat16 on CUDA, float32 on the CPU
    (docs/architecture.md#precision)."""
    return precision_dtype(resolve_precision("auto", device))


@contextlib.contextmanager
def precision_scope(precision: Precision) -> Iterator[None]:
    """Within the block, CUDA's float32 matmuls and cuDNN's convolutions may use TF32 exactly when
    ``precision`` is ``tf32`` (for ``bf16`` only what autocast leaves in float32 is affected: it runs at
    full precision). The process's previous settings are restored on leaving. The CPU ignores both flags."""
    matmul, convolution = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    allow = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = convolution


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager[None]:
    """Autocast to ``dtype`` on ``device`` when it is a reduced precision; nothing for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
