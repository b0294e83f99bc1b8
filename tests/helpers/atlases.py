"""Atlases built by the real precompute job, and independent ways to check them.

The reference computations here are brute force in numpy (each image's tokens captured one at a time
and projected onto the atlas's stored ``u``/``v``), byte comparisons of whole atlases, and the job run
as a user would run it: killed and resumed, or under ``torchrun`` with two processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from precompute.checkpoint import checkpoint_name, read_checkpoint
from precompute.cli import main
from qkatlas.atlas import Atlas, find_atlases
from qkatlas.images import load_image_file, to_model_input
from qkatlas.models import ViTAdapter, load_model_from_source

#: A tiny random-init timm ViT: 2 blocks, width 48, 3 heads of 16 — fast on 2 CPU cores.
TINY_VIT = "vit_tiny_patch16_224"


TINY_OVERRIDES = {"depth": 2, "embed_dim": 48, "num_heads": 3, "img_size": 64}


def build_atlas(
    out: Path, model: str, images: Path, *extra: str, overrides: Mapping[str, object] | None = None
) -> Path:
    """Run the real CLI in-process and return the atlas directory it wrote."""
    before = {p.name for p in out.iterdir()} if out.exists() else set()
    args = ["--model", model, "--images", str(images), "--out", str(out), "--no-progress", "--workers", "0"]
    for key, value in (overrides or {}).items():
        args += ["--override", f"{key}={value}"]
    assert main([*args, *extra]) == 0
    atlases, failures = find_atlases(out)
    assert not failures, failures
    new = [a.path for a in atlases if a.path.name not in before]
    return new[0] if new else next(a.path for a in atlases if a.manifest.model_source.id == model)


def brute_force_projections(atlas: Atlas, images: list[Path]) -> dict[str, np.ndarray]:
    """Per basis, P_U and P_V of every image file: ``[N_images, L, H, M, P]`` (float64)."""
    prep = atlas.manifest.preprocessing
    return brute_force_projections_of(atlas, [to_model_input(load_image_file(path), prep) for path in images])


def brute_force_projections_of(atlas: Atlas, inputs: list[torch.Tensor]) -> dict[str, np.ndarray]:
    """``brute_force_projections`` of model inputs (uint8 ``[3, S, S]``, as the model sees them)."""
    adapter = load_model_from_source(atlas.manifest.model_source)
    arrays = atlas.arrays
    return brute_force_maps(adapter, arrays["U"], arrays["V"], arrays["query_offset"], inputs)


def brute_force_maps(
    adapter: ViTAdapter, u: np.ndarray, v: np.ndarray, offset: np.ndarray, inputs: list[torch.Tensor]
) -> dict[str, np.ndarray]:
    """Per basis, P_U and P_V of every input (uint8 ``[3, S, S]``): ``[N, L, H, M, P]`` float64, each
    image's tokens captured alone and projected in numpy onto ``u, v [L, H, M, d]`` (``offset [L, H, M]``:
    ``u_n · c``, added in the exact basis)."""
    spec = adapter.spec
    u, v = u.astype(np.float64), v.astype(np.float64)
    out: dict[str, list[np.ndarray]] = {"faithful_q": [], "faithful_k": [], "exact_q": [], "exact_k": []}
    for pixels in inputs:
        captured: list[tuple[np.ndarray, np.ndarray]] = []

        def keep(
            _layer: int,
            residual: torch.Tensor,
            normed: torch.Tensor,
            into: list[tuple[np.ndarray, np.ndarray]] = captured,
        ) -> None:
            into.append((residual[0].double().numpy(), normed[0].double().numpy()))

        adapter.run_with_capture(adapter.normalize(pixels.unsqueeze(0)), keep)
        for basis, position in (("faithful", 0), ("exact", 1)):
            patches = np.stack([c[position][spec.n_prefix :] for c in captured])  # [L, P, d]
            q = np.einsum("lhmd,lpd->lhmp", u, patches)
            if basis == "exact":
                q = q + offset[..., None]
            out[f"{basis}_q"].append(q)
            out[f"{basis}_k"].append(np.einsum("lhmd,lpd->lhmp", v, patches))
    return {key: np.stack(value) for key, value in out.items()}


#: Statistics and effects that are float sums (or follow from them): two processes add them in another order.
STATISTICS_SUMS = (
    "effects/mean.npy",
    "effects/std.npy",
    "stats/mean.npy",
    "stats/std.npy",
    "stats/class_mean.npy",
    "stats/class_top_selectivity.npy",
    "stats/class_modes_selectivity.npy",
)


def atlas_contents(path: Path, split_sums: bool = False) -> dict[str, Any]:
    """Everything an atlas holds except how its run went; with ``split_sums`` the float sums of the
    statistics come apart, as arrays under ``sums``, to be compared with a tolerance."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.pop("run")
    files = {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    if not split_sums:
        return {"manifest": manifest, "files": files}
    sums = {name: np.load(path / name) for name in STATISTICS_SUMS if name in files}
    return {"manifest": manifest, "files": {k: v for k, v in files.items() if k not in sums}, "sums": sums}


#: The options of the tiny ViT's job that ``tiny_job_command`` runs (besides the tiny overrides).
TINY_JOB_OPTIONS = ("--random-init", "--top-k", "3", "--batch-size", "2")


def tiny_job_command(listing: Path, out: Path, *extra: str) -> list[str]:
    """``python -m precompute`` building the tiny ViT's atlas of ``listing`` into ``out`` in one process,
    with a checkpoint as often as the writer keeps up (``extra``: more options)."""
    overrides = [arg for key, value in TINY_OVERRIDES.items() for arg in ("--override", f"{key}={value}")]
    return [
        sys.executable, "-m", "precompute", "--model", TINY_VIT, "--images", str(listing), "--out", str(out),
        *TINY_JOB_OPTIONS, "--workers", "0", "--checkpoint-every", "0", "--no-progress", *overrides, *extra,
    ]  # fmt: skip


def killed_after_a_checkpoint(args: list[str], checkpoint: Path) -> None:
    """Run the job ``args`` (of 64 items) and kill it once it has written ``checkpoint`` part-way."""
    process = subprocess.Popen(args)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < read_checkpoint(checkpoint).header.position < 64


def run_killed_then_resumed(tmp_path: Path, listing: Path, *extra: str) -> tuple[Path, Path]:
    """Build the tiny ViT's atlas of ``listing`` (64 entries) whole, and again in a run killed after a
    checkpoint and resumed (``extra``: more options for both); return ``(resumed atlas, uninterrupted atlas)``."""
    reference = build_atlas(tmp_path / "whole", TINY_VIT, listing, *TINY_JOB_OPTIONS, *extra, overrides=TINY_OVERRIDES)
    out = tmp_path / "killed"
    args = tiny_job_command(listing, out, *extra)
    killed_after_a_checkpoint(args, out / ".partial" / reference.name / checkpoint_name(0, 1))
    assert not (out / reference.name).exists(), "the run finished before it could be killed"

    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not (out / ".partial").exists()  # nothing left of the partial state once published
    return out / reference.name, reference


def two_ranks_command(images: Path, out: Path, *args: str) -> list[str]:
    """``python -m precompute`` under ``torchrun`` with two gloo processes on the CPU (the tiny ViT's
    overrides given; ``args``: the model and the other options)."""
    overrides = [arg for key, value in TINY_OVERRIDES.items() for arg in ("--override", f"{key}={value}")]
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "precompute", "--images", str(images), "--out", str(out), "--workers", "0", "--no-progress",
        "--device", "cpu", *args, *overrides,
    ]  # fmt: skip


def run_two_ranks(images: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m precompute`` under ``torchrun`` with two gloo processes on the CPU (the tiny ViT's
    overrides given); the run must succeed."""
    result = subprocess.run(two_ranks_command(images, out, *args), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def assert_same_atlas(distributed: Path, single: Path) -> None:
    """Equal byte for byte, except the statistics' float sums, which two processes add in another order."""
    merged, whole = atlas_contents(distributed, split_sums=True), atlas_contents(single, split_sums=True)
    assert merged["manifest"] == whole["manifest"] and merged["files"] == whole["files"]
    assert merged["sums"].keys() == whole["sums"].keys()
    for name, values in merged["sums"].items():
        np.testing.assert_allclose(values, whole["sums"][name], rtol=1e-9, atol=1e-9, err_msg=name)
