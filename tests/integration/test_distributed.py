"""Distributed precompute: two gloo processes under torchrun write the same atlas as one process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.integration.test_precompute import _atlas_contents


def run_two_ranks(images: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m precompute`` under ``torchrun`` with two gloo processes on the CPU (the tiny ViT's
    overrides given); the run must succeed."""
    overrides = [arg for key, value in TINY_OVERRIDES.items() for arg in ("--override", f"{key}={value}")]
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "precompute", "--images", str(images), "--out", str(out), "--workers", "0", "--no-progress",
         "--device", "cpu", *args, *overrides],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def assert_same_atlas(distributed: Path, single: Path) -> None:
    """Equal byte for byte, except the statistics' float sums, which two processes add in another order."""
    merged, whole = _atlas_contents(distributed, split_sums=True), _atlas_contents(single, split_sums=True)
    assert merged["manifest"] == whole["manifest"] and merged["files"] == whole["files"]
    assert merged["sums"].keys() == whole["sums"].keys()
    for name, values in merged["sums"].items():
        np.testing.assert_allclose(values, whole["sums"][name], rtol=1e-9, atol=1e-9, err_msg=name)


def test_two_processes_write_the_same_atlas_as_one(tmp_path: Path, photo_dir: Path) -> None:
    options = ["--random-init", "--top-k", "3", "--batch-size", "3"]
    single = build_atlas(tmp_path / "single", TINY_VIT, photo_dir, *options, overrides=TINY_OVERRIDES)
    result = run_two_ranks(photo_dir, tmp_path / "dist", "--model", TINY_VIT, *options)
    distributed = tmp_path / "dist" / single.name
    assert_same_atlas(distributed, single)
    assert "atlas written to" in result.stdout  # rank 0 reports; the atlas was written once


def test_two_processes_build_several_models_in_groups_like_one_process(tmp_path: Path, photo_dir: Path) -> None:
    options = ["--random-init", "--top-k", "3", "--batch-size", "3"]
    singles = [
        build_atlas(tmp_path / "single", model, photo_dir, *options, overrides=TINY_OVERRIDES)
        for model in (TINY_VIT, "planted")
    ]
    result = run_two_ranks(
        photo_dir, tmp_path / "dist", "--model", TINY_VIT, "--model", "planted", "--device-memory", "0.000001", *options
    )
    assert "2 model(s) in 2 group(s)" in result.stderr
    for single in singles:
        assert_same_atlas(tmp_path / "dist" / single.name, single)
