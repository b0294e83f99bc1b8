"""The job's precision: what each name resolves to, and the TF32 flags scoped to the job."""

import pytest
import torch

from qkatlas.device import compute_dtype, precision_dtype, precision_scope, resolve_precision

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize(
    ("name", "device", "resolved"),
    [
        ("auto", CUDA, "bf16"),
        ("auto", CPU, "fp32"),
        ("tf32", CUDA, "tf32"),
        ("tf32", CPU, "fp32"),  # TF32 is a mode of CUDA's matmuls: on the CPU it is float32
        ("bf16", CPU, "bf16"),
        ("fp32", CUDA, "fp32"),
    ],
)
def test_each_precision_resolves_for_its_device(name: str, device: torch.device, resolved: str) -> None:
    assert resolve_precision(name, device) == resolved  # type: ignore[arg-type]


def test_the_default_dtypes_are_todays() -> None:
    assert compute_dtype(CUDA) == torch.bfloat16 and compute_dtype(CPU) == torch.float32
    assert precision_dtype("tf32") == torch.float32 and precision_dtype("fp32") == torch.float32


@pytest.mark.parametrize(("precision", "allowed"), [("tf32", True), ("fp32", False), ("bf16", False)])
def test_tf32_is_allowed_only_within_a_tf32_scope_and_the_settings_come_back(precision: str, allowed: bool) -> None:
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = (not allowed), (not allowed)
    try:
        with precision_scope(precision):  # type: ignore[arg-type]
            assert torch.backends.cuda.matmul.allow_tf32 is allowed and torch.backends.cudnn.allow_tf32 is allowed
        assert torch.backends.cuda.matmul.allow_tf32 is (not allowed)
        assert torch.backends.cudnn.allow_tf32 is (not allowed)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
