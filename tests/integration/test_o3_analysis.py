"""Odd-One-Out analysis end to end: known answers on the planted model over synthetic O3 images with
exact masks, the two real O3/P3 examples, storage with the atlas, and the reproduction command."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from precompute.cli import main
from qkatlas.atlas import Atlas
from qkatlas.atlas import format as fmt
from qkatlas.images import load_image_file
from qkatlas.models import load_model
from qkatlas.o3 import (
    MASK_THRESHOLD,
    QUERIES,
    REGIONS,
    analyse_o3,
    open_o3_dataset,
    prepare_item,
    split_attention,
)
from qkatlas.sample_photos import optional_sample_dir
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.helpers.o3_images import write_synthetic_o3

SAMPLE_O3 = optional_sample_dir("o3-example")


@pytest.fixture(scope="module")
def synthetic_o3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_o3(tmp_path_factory.mktemp("o3-synthetic"), n=5)


@pytest.fixture(scope="module")
def real_o3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SAMPLE_O3.is_dir():
        # CI has the optional sample data, so there a missing folder is a failure, not a skip.
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing(f"the real O3 examples are not at {SAMPLE_O3} (set QKATLAS_SAMPLE_DATA)")
    copy = tmp_path_factory.mktemp("o3-real") / "o3"
    shutil.copytree(SAMPLE_O3, copy)
    return copy


def test_planted_heads_give_the_answers_known_by_construction(synthetic_o3: Path) -> None:
    """Layer 0 head 0 groups green with green: the green target's query stays on the target. Layer 1
    head 0 sends green to red: the target's query goes to the red distractors. Head 1 of both layers
    has only modes on dimensions the tokens never use: uniform attention, i.e. exactly the area shares."""
    result = analyse_o3(load_model("planted"), open_o3_dataset(synthetic_o3), batch_size=3)
    assert result.dataset.model_dump() == {"source": str(synthetic_o3), "n_images": 5, "n_used": 4, "n_skipped": 1}
    assert [entry.model_dump() for entry in result.skipped] == [
        {"name": "synthetic_04.png", "reason": "target mask covers no patch of the model's crop"}
    ]
    # Not 1.0: resampling 128 → 64 px blurs each mask edge by 1/8 of an output pixel, so a patch on the
    # object's border is ~97 % covered (the image is blurred the same way, which is the point).
    target = result.target_query.head
    assert target.same_object[0][0] > 0.95
    assert target.different_object[1][0] > 0.95
    for query in QUERIES:
        for region in REGIONS:
            chance = result.query(query).chance.of(region)
            assert result.query(query).head.at(0, 1).of(region) == pytest.approx(chance, abs=1e-6)
            assert result.query(query).head.at(1, 1).of(region) == pytest.approx(chance, abs=1e-6)
    for image in result.images:
        assert image.target_query_coverage > 0.9 and image.distractor_query_coverage > 0.9
        assert image.target_area == pytest.approx(4 / 64, abs=0.01)
        assert image.distractor_area == pytest.approx(12 / 64, abs=0.02)


def test_batching_does_not_change_the_ratios(synthetic_o3: Path) -> None:
    adapter = load_model("planted")
    prepared = [prepare_item(item, adapter) for item in open_o3_dataset(synthetic_o3).items[:3]]
    together = split_attention(adapter, prepared)
    alone = np.concatenate([split_attention(adapter, [item]) for item in prepared])
    assert together.shape == (3, 2, 2, 2, 3)
    np.testing.assert_allclose(together, alone, atol=1e-6)


def _brute_force_grid(mask_path: Path, crop_box: tuple[float, float, float, float], grid: int) -> np.ndarray:
    """Coverage of each patch from the full-resolution binarized mask: the crop region of the photo
    (``crop_box`` in photo pixels) is cut into ``grid × grid`` cells and each cell's mask pixels averaged."""
    mask = np.asarray(load_image_file(mask_path).convert("L")) >= MASK_THRESHOLD
    x0, y0, x1, y1 = crop_box
    cell_w, cell_h = (x1 - x0) / grid, (y1 - y0) / grid
    out = np.zeros((grid, grid))
    for row in range(grid):
        for col in range(grid):
            top, left = round(y0 + row * cell_h), round(x0 + col * cell_w)
            out[row, col] = mask[top : round(y0 + (row + 1) * cell_h), left : round(x0 + (col + 1) * cell_w)].mean()
    return out


def test_real_examples_masks_and_ratios(real_o3: Path) -> None:
    """The two real examples with a tiny random-init ViT (shortest-edge resize + centre crop): every
    patch's coverage matches a brute-force average of the full-resolution mask over the patch's
    footprint, queries sit on their objects, and each query's three shares sum to 1."""
    adapter = load_model(TINY_VIT, random_init=True, overrides=TINY_OVERRIDES)
    prep, grid = adapter.preprocessing, adapter.spec.grid
    assert prep.resize_mode == "shortest" and prep.resize > prep.crop  # the crop is really exercised
    dataset = open_o3_dataset(real_o3)
    assert [item.name for item in dataset.items] == ["C4kfsNTXa2Irj.jpg", "image_circle_90_20_36_16.png"]
    for item in dataset.items:
        prepared = prepare_item(item, adapter)
        side = load_image_file(item.image).size[0]  # both examples are square
        kept = side * prep.crop / prep.resize
        crop_box = ((side - kept) / 2, (side - kept) / 2, (side + kept) / 2, (side + kept) / 2)
        for region, mask_path in ((0, item.target_mask), (1, item.distractor_mask)):
            expected = _brute_force_grid(mask_path, crop_box, grid).reshape(-1)
            np.testing.assert_allclose(prepared.coverage[region], expected, atol=0.12)
            assert abs(prepared.coverage[region].sum() - expected.sum()) < 0.25
            assert prepared.coverage[region, prepared.queries[region]] == pytest.approx(expected.max(), abs=0.12)
        np.testing.assert_allclose(prepared.coverage.sum(axis=0), 1.0)
    result = analyse_o3(adapter, dataset)
    assert result.dataset.n_used == 2
    for query in QUERIES:
        tables = result.query(query)
        for table in (tables.layer, tables.head):
            total = sum(np.asarray(getattr(table, region)) for region in REGIONS)
            np.testing.assert_allclose(total, 1.0, atol=1e-6)
    # Random weights attend nearly uniformly: the shares sit near the area shares.
    layer = np.asarray(result.target_query.layer.background)
    assert np.all(np.abs(layer - result.target_query.chance.background) < 0.1)


def test_cli_stores_results_with_the_models_atlas(
    tmp_path: Path, synthetic_o3: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before an atlas exists the results go to ``<root>/<slug>__o3.json`` (and an atlas built later
    sees them); once it exists, into the atlas as ``o3.json``. Other weights never match."""
    root = tmp_path / "atlases"
    args = ["o3", "--model", "planted", "--o3", str(synthetic_o3), "--out", str(root), "--no-progress"]
    assert main(args) == 0
    sidecar = root / "planted__o3.json"
    assert sidecar.is_file()
    output = capsys.readouterr().out
    assert "target:same" in output and str(sidecar) in output

    images = tmp_path / "images"
    shutil.copytree(synthetic_o3 / "images", images)
    atlas_dir = build_atlas(root, "planted", images, "--top-k", "2", "--batch-size", "4")
    atlas = Atlas.open(atlas_dir)
    assert atlas.o3 is not None and atlas.o3.model_slug == "planted"

    assert main(args) == 0
    inside = json.loads((atlas_dir / fmt.O3).read_text())
    assert inside["target_query"] == atlas.o3.target_query.to_json_dict()
    assert inside["normalized_depth"] == [0.0, 1.0]

    other = build_atlas(root, TINY_VIT, images, "--random-init", "--top-k", "2", overrides=TINY_OVERRIDES)
    assert Atlas.open(other).o3 is None


def test_subcommand_help_and_the_job_form_still_parse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["o3", "--help"])
    assert exit_info.value.code == 0
    assert "python -m precompute o3" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--model", "planted"])  # the job's own form: --images and --out still required
    assert "--images" in capsys.readouterr().err


def test_reproduce_offline_runs_on_random_weights_and_says_so(
    tmp_path: Path, real_o3: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two small timm models; the hub probe is forced to fail, as on CI."""
    monkeypatch.setattr("precompute.reproduce.hub_reachable", lambda: False)
    out = tmp_path / "paper"
    models = [TINY_VIT, "deit_tiny_distilled_patch16_224"]
    overrides = [arg for key, value in TINY_OVERRIDES.items() for arg in ("--override", f"{key}={value}")]
    args = ["reproduce", "--out", str(out), "--o3", str(real_o3), "--models", *models, *overrides, "--no-progress"]
    assert main(args) == 0
    output = capsys.readouterr().out
    assert output.startswith("RANDOM WEIGHTS — offline")
    assert "2 of 2 models done" in output
    stems = ["fig3_weighted_cosine", "fig2_o3", *(f"spectra/{m}" for m in models)]
    for stem in stems:
        for suffix in (".png", ".svg", ".csv"):
            path = out / f"{stem}{suffix}"
            assert path.is_file() and path.stat().st_size > 0, path
        with (out / f"{stem}.csv").open() as handle:
            assert handle.readline().strip() == "# RANDOM WEIGHTS — offline"
            rows = list(csv.DictReader(handle))
        assert rows
        assert "RANDOM WEIGHTS — offline" in (out / f"{stem}.svg").read_text()
    with (out / "fig3_weighted_cosine.csv").open() as handle:
        handle.readline()
        fig3 = list(csv.DictReader(handle))
    depth = TINY_OVERRIDES["depth"]
    assert [(r["model"], int(r["layer"])) for r in fig3] == [(m, layer) for m in models for layer in range(depth)]
    assert float(fig3[0]["baseline_95"]) == pytest.approx(1.96 / np.sqrt(TINY_OVERRIDES["embed_dim"]))
    d_head = int(fig3[0]["d_head"])
    assert float(fig3[0]["weighted_cos_scaled"]) == pytest.approx(float(fig3[0]["weighted_cos"]) / d_head)
    with (out / "spectra" / f"{TINY_VIT}.csv").open() as handle:
        handle.readline()
        spectra = list(csv.DictReader(handle))
    assert d_head == TINY_OVERRIDES["embed_dim"] // TINY_OVERRIDES["num_heads"]
    assert len(spectra) == depth * TINY_OVERRIDES["num_heads"] * d_head
    assert all(float(row["sigma"]) > 0 and -1 <= float(row["cos"]) <= 1 for row in spectra)
    for model in models:
        assert (out / "atlases" / f"{model}__o3.json").is_file()
