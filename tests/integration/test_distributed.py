"""Distributed precompute: two gloo processes under torchrun write the same atlas as one process."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, assert_same_atlas, build_atlas, run_two_ranks


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
