"""The precompute job end to end, checked against independent computations.

The reference here is brute force in numpy: capture each image's tokens one at a time, project them
onto the atlas's stored ``u``/``v`` vectors, score every mode, and rank all images exhaustively.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from precompute.checkpoint import checkpoint_name
from precompute.cli import main
from precompute.loading import atlas_slugs
from qkatlas.atlas import Atlas
from qkatlas.images import open_image_source
from qkatlas.sample_photos import write_sample_photos
from tests.helpers.atlases import (
    TINY_OVERRIDES,
    TINY_VIT,
    atlas_contents,
    brute_force_projections,
    build_atlas,
    killed_after_a_checkpoint,
    run_killed_then_resumed,
    tiny_job_command,
)

#: Families with different prefix layouts: CLS; CLS + distillation; CLS + 4 registers.
PREFIX_LAYOUTS = {
    "cls": (TINY_VIT, TINY_OVERRIDES, 1),
    "cls+distillation": (
        "deit_tiny_distilled_patch16_224",
        {"depth": 2, "embed_dim": 48, "num_heads": 3, "img_size": 64},
        2,
    ),
    "cls+registers": (
        "vit_small_patch14_reg4_dinov2",
        {"depth": 2, "embed_dim": 48, "num_heads": 3, "img_size": 56},
        5,
    ),
}


@pytest.mark.parametrize("layout", list(PREFIX_LAYOUTS))
def test_top_k_and_maps_equal_brute_force(tmp_path: Path, photo_dir: Path, layout: str) -> None:
    model, overrides, n_prefix = PREFIX_LAYOUTS[layout]
    atlas = Atlas.open(
        build_atlas(
            tmp_path,
            model,
            photo_dir,
            "--random-init",
            "--top-k",
            "3",
            "--batch-size",
            "5",
            overrides=overrides,
        )
    )
    assert atlas.manifest.model.n_prefix == n_prefix
    assert atlas.manifest.run.precision == "fp32" and atlas.manifest.ties is not None
    assert atlas.manifest.ties.how == "analytic"
    images = [item.path for item in open_image_source(photo_dir).items]
    reference = brute_force_projections(atlas, images)
    k = atlas.top_k
    for b, basis in enumerate(atlas.bases):
        q, key = reference[f"{basis}_q"], reference[f"{basis}_k"]
        for s, (qs, ks) in enumerate(((q, key), (-q, -key))):  # pos, then the neg mode (−u, −v)
            scores = qs.max(-1) * ks.max(-1)  # [N, L, H, M]
            order = np.argsort(-scores, axis=0, kind="stable")[:k]  # ties → lower index first
            stored = atlas.arrays["topk_indices"][b, ..., s, :]  # [L, H, M, K]
            np.testing.assert_array_equal(np.moveaxis(order, 0, -1), stored)
            best = np.take_along_axis(scores, order, axis=0)
            np.testing.assert_allclose(np.moveaxis(best, 0, -1), atlas.arrays["topk_scores"][b, ..., s, :], rtol=2e-4)
            # The runner-up: the (K+1)-th score of the full ranking (the tie check's other side).
            next_best = -np.sort(-scores, axis=0)[k]
            np.testing.assert_allclose(next_best, atlas.arrays["topk_runner_up"][b, ..., s], rtol=2e-4)
            # The stored maps of each winner are that image's maps for the signed mode (float16).
            winners_q = np.take_along_axis(qs, order[..., None], axis=0)  # [K, L, H, M, P]
            stored_q = atlas.arrays["maps_query"][b, ..., s, :, :, :].reshape(*stored.shape, -1)
            np.testing.assert_allclose(
                np.moveaxis(winners_q, 0, -2), stored_q, atol=2e-3 * np.abs(winners_q).max() + 1e-3
            )
            winners_k = np.take_along_axis(ks, order[..., None], axis=0)
            stored_k = atlas.arrays["maps_key"][b, ..., s, :, :, :].reshape(*stored.shape, -1)
            np.testing.assert_allclose(
                np.moveaxis(winners_k, 0, -2), stored_k, atol=2e-3 * np.abs(winners_k).max() + 1e-3
            )


def test_bf16_on_the_cpu_is_recorded_with_its_rounding_measured_against_float32(
    tmp_path: Path, photo_dir: Path
) -> None:
    path = build_atlas(
        tmp_path, TINY_VIT, photo_dir, "--random-init", "--top-k", "2", "--precision", "bf16", overrides=TINY_OVERRIDES
    )
    manifest = Atlas.open(path).manifest
    assert manifest.run.precision == "bf16" and manifest.run.dtype == "bfloat16"
    ties = manifest.ties
    assert ties is not None and ties.how == "measured"
    assert ties.sample_images == len(open_image_source(photo_dir).items)
    # bfloat16 keeps 8 significant bits: a score's rounding, relative to its column's scale, lies well above
    # float32's (2⁻²⁴) and below a whole part in 8.
    assert 2.0**-16 < ties.epsilon < 2.0**-3


def test_tf32_on_the_cpu_is_fp32_and_says_so(
    tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = build_atlas(tmp_path, TINY_VIT, photo_dir, "--random-init", "--precision", "tf32", overrides=TINY_OVERRIDES)
    assert Atlas.open(path).manifest.run.precision == "fp32"
    assert "--precision tf32 on the CPU is fp32" in capsys.readouterr().err


def test_thumbnails_and_metadata_of_winners(atlas_root: Path) -> None:
    atlas = next(Atlas.open(p) for p in atlas_root.iterdir() if p.name.startswith(TINY_VIT))
    winners = {i for i in np.unique(atlas.arrays["topk_indices"]) if i >= 0}
    assert winners
    for index in winners:
        meta = atlas.image_meta(int(index))
        assert meta is not None and meta.source.endswith((".jpg", ".png"))
        thumb = atlas.thumbnail(int(index))
        assert thumb is not None and thumb[:2] == b"\xff\xd8"


def test_resume_after_kill_reproduces_uninterrupted_run(tmp_path: Path, photo_dir: Path) -> None:
    listing = tmp_path / "images.txt"  # 64 entries so that the run lasts long enough to be killed
    photos = sorted(photo_dir.iterdir())
    listing.write_text("".join(f"{photos[i % len(photos)]}\n" for i in range(64)))
    resumed, reference = run_killed_then_resumed(tmp_path, listing)
    assert atlas_contents(resumed) == atlas_contents(reference)


def test_a_resume_at_another_precision_is_refused_and_names_it(tmp_path: Path, photo_dir: Path) -> None:
    listing = tmp_path / "images.txt"
    photos = sorted(photo_dir.iterdir())
    listing.write_text("".join(f"{photos[i % len(photos)]}\n" for i in range(64)))
    out = tmp_path / "killed"
    args = tiny_job_command(listing, out)  # fp32: the CPU's default
    slug = atlas_slugs([TINY_VIT], open_image_source(listing).name)[0]
    killed_after_a_checkpoint(args, out / ".partial" / slug / checkpoint_name(0, 1))
    resumed = subprocess.run([*args, "--resume", "--precision", "bf16"], capture_output=True, text=True)
    assert resumed.returncode != 0
    assert "different settings (precision)" in resumed.stderr and "--resume" in resumed.stderr
    assert "Traceback" not in resumed.stderr


def test_the_finished_progress_bar_is_drawn_once(
    tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even in a log that keeps every redraw (stderr is not a terminal here), with messages after it."""
    overrides = [arg for key, value in TINY_OVERRIDES.items() for arg in ("--override", f"{key}={value}")]
    args = ["--model", TINY_VIT, "--random-init", "--images", str(photo_dir), "--out", str(tmp_path), "--workers", "0"]
    assert main([*args, "--top-k", "2", "--batch-size", "4", *overrides]) == 0
    stderr = capsys.readouterr().err
    n = len(open_image_source(photo_dir).items)
    assert stderr.count(f"| {n}/{n} [") == 1, stderr
    assert "published" in stderr.split(f"| {n}/{n} [")[1]  # drawn before the messages that follow it


def test_corrupt_images_are_skipped_and_reported(tmp_path: Path) -> None:
    images = tmp_path / "images"
    write_sample_photos(images, ("astronaut", "coffee", "camera"))
    (images / "broken.jpg").write_bytes((images / "coffee.jpg").read_bytes()[:2000])
    (images / "notes.jpg").write_text("not an image at all")
    atlas = Atlas.open(
        build_atlas(tmp_path / "out", TINY_VIT, images, "--random-init", "--top-k", "2", overrides=TINY_OVERRIDES)
    )
    skipped = {entry.source: entry.reason for entry in atlas.manifest.skipped}
    assert set(skipped) == {"broken.jpg", "notes.jpg"}
    assert all(reason for reason in skipped.values())
    assert atlas.manifest.dataset.n_images == 5
    assert atlas.manifest.dataset.n_skipped == 2
    skipped_ids = {entry.index for entry in atlas.manifest.skipped}
    assert not skipped_ids & set(np.unique(atlas.arrays["topk_indices"]).tolist())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", TINY_VIT, "--random-init", "--images", "{empty}"], "empty image source"),
        (
            ["--model", "no_such_model_anywhere", "--random-init", "--images", "{photos}"],
            "no_such_model_anywhere",
        ),
        (["--model", TINY_VIT, "--random-init", "--images", "{missing}"], "not found"),
    ],
)
def test_bad_invocations_fail_fast_with_a_clear_message(
    tmp_path: Path, photo_dir: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    paths = {"empty": tmp_path / "empty", "photos": photo_dir, "missing": tmp_path / "missing"}
    args = [a.format(**paths) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "precompute", *args, "--out", str(tmp_path / "out"), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert message in result.stderr.lower() or message in result.stderr
    assert "Traceback" not in result.stderr


def test_rebuilding_keeps_weight_only_results_only_for_the_same_weights(tmp_path: Path) -> None:
    images = tmp_path / "images"
    write_sample_photos(images, ("astronaut", "coffee"))
    options = ("--random-init", "--top-k", "1")
    atlas = build_atlas(tmp_path / "out", TINY_VIT, images, *options, overrides=TINY_OVERRIDES)
    (atlas / "o3.json").write_text('{"kind": "o3"}')
    assert build_atlas(tmp_path / "out", TINY_VIT, images, *options, overrides=TINY_OVERRIDES) == atlas
    assert (atlas / "o3.json").read_text() == '{"kind": "o3"}'
    build_atlas(tmp_path / "out", TINY_VIT, images, *options, "--seed", "1", overrides=TINY_OVERRIDES)
    assert not (atlas / "o3.json").exists()
