"""The typed atlas contract: validation names the wrong field, versions are checked, files round-trip."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from qkatlas.atlas import contract
from qkatlas.atlas.contract import (
    FORMAT_VERSION,
    AtlasManifest,
    FormatError,
    ModelInfo,
    read_manifest,
    read_o3,
)
from qkatlas.conventions import Basis, Sign
from qkatlas.models.base import ModelSpec

#: A manifest as the job writes it (version 6), spelled out by hand rather than produced by the code.
MANIFEST: dict[str, Any] = {
    "format_version": 6,
    "slug": "facebook--dino-vits16__imagenet-samples",
    "model_slug": "facebook--dino-vits16",
    "model": {
        "model_id": "facebook/dino-vits16",
        "family": "hf_vit",
        "n_layers": 12,
        "n_heads": 6,
        "d_model": 384,
        "d_head": 64,
        "patch_size": 16,
        "image_size": 224,
        "prefix_kinds": ["cls"],
        "revision": None,
        "random_init": True,
        "extra": {"model_type": "vit"},
        "n_prefix": 1,
        "grid": 14,
        "planted_modes": [],
    },
    "model_source": {
        "id": "facebook/dino-vits16",
        "random_init": True,
        "seed": 0,
        "revision": None,
        "overrides": {},
        "planted": False,
    },
    "preprocessing": {
        "crop": 224,
        "resize": 224,
        "resize_mode": "exact",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "interpolation": "bicubic",
    },
    "bases": ["faithful", "exact"],
    "signs": ["pos", "neg"],
    "scoring": {"rule": "paper", "pos": "max P_U * max P_V", "neg": "min P_U * min P_V"},
    "sign_rule": "largest-magnitude entry of u positive",
    "degeneracy_rtol": 0.001,
    "top_k": 8,
    "dataset": {"name": "imagenet-samples", "source": "/data/x", "layout": "flat", "n_images": 3, "n_skipped": 1},
    "skipped": [{"index": 2, "source": "bad.jpg", "reason": "cannot identify image file"}],
    "run": {
        "device": "cpu",
        "dtype": "float32",
        "batch_size": 32,
        "workers": 1,
        "processes": 1,
        "started": "2026-11-30T10:00:00+00:00",
        "finished": "2026-11-30T10:01:00+00:00",
        "wall_seconds": 60.0,
        "images_per_second": 2.5,
        "resumed": False,
        "decoder": "pillow",
        "precision": "fp32",
    },
    "versions": {"qkatlas": "0.1.0", "torch": "2.14.1"},
    "statistics": {
        "n_bins": 64,
        "binning": "64 equal-width bins ...",
        "calibration_images": 256,
        "classes": ["goldfish", "tench"],
        "top_classes": 2,
        "class_modes": 64,
        "selectivity": "(mean_c - mean) / std",
        "samples": {"bands": 8, "per_band": 4, "rule": "8 bands of 8 bins ..."},
    },
    "effects": {
        "computed": True,
        "definition": "mean over patch queries of ½ Σ_j |A_ij − A⁻ⁿ_ij|",
        "top_images": 8,
        "n_bins": 64,
        "binning": "64 equal-width bins ...",
        "calibration_images": 256,
    },
    "ties": {"epsilon": 9.2e-5, "how": "analytic", "sample_images": 0, "rule": "a − b ≤ ε·(|a| + |b|) ..."},
}


def _manifest(**changes: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(MANIFEST)
    manifest.update(changes)
    return manifest


def test_a_written_manifest_reads_back_typed_and_dumps_to_the_same_json() -> None:
    manifest = read_manifest(json.loads(json.dumps(MANIFEST)))
    assert manifest.model.grid == 14 and manifest.model.prefix_kinds == ("cls",)
    assert manifest.bases == (Basis.faithful, Basis.exact) and manifest.signs == (Sign.pos, Sign.neg)
    assert manifest.preprocessing.mean == (0.5, 0.5, 0.5)
    assert manifest.skipped[0].source == "bad.jpg"
    assert manifest.to_json_dict() == MANIFEST


def test_a_version_1_manifest_reads_as_an_atlas_without_statistics() -> None:
    older = copy.deepcopy(MANIFEST)
    older["format_version"] = 1
    del older["effects"]
    del older["statistics"]
    manifest = read_manifest(older)
    assert manifest.format_version == FORMAT_VERSION and manifest.statistics is None


def test_a_version_2_manifest_reads_as_a_model_without_planted_modes() -> None:
    older = copy.deepcopy(MANIFEST)
    older["format_version"] = 2
    del older["effects"]
    del older["model"]["planted_modes"]
    manifest = read_manifest(older)
    assert manifest.format_version == FORMAT_VERSION and manifest.model.planted_modes == ()


def test_a_version_4_manifest_reads_as_an_atlas_without_effects() -> None:
    older = copy.deepcopy(MANIFEST)
    older["format_version"] = 4
    del older["effects"]
    manifest = read_manifest(older)
    assert manifest.format_version == FORMAT_VERSION and not manifest.effects.computed
    assert manifest.effects.definition is None and manifest.effects.top_images is None


def test_computed_effects_without_their_definition_are_refused() -> None:
    manifest = _manifest(effects={"computed": True})
    with pytest.raises(FormatError, match=r"^manifest\.json: effects: .*computed effects need a definition"):
        read_manifest(manifest)


def test_a_version_3_manifest_reads_as_an_atlas_without_distribution_samples() -> None:
    older = copy.deepcopy(MANIFEST)
    older["format_version"] = 3
    del older["effects"]
    del older["statistics"]["samples"]
    manifest = read_manifest(older)
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.statistics is not None and manifest.statistics.samples is None
    older["statistics"] = None  # built with --no-statistics: nothing to add
    assert read_manifest(older).statistics is None


def test_a_planted_mode_reads_back_typed_and_a_wrong_one_is_named() -> None:
    planted = {
        "layer": 0,
        "head": 0,
        "mode": 0,
        "sign": "pos",
        "query": "red",
        "key": "blue",
        "sigma": 9.0,
        "kind": "contextual",
        "description": "red patches attend to blue patches",
        "expected_look": "red and blue squares",
    }
    manifest = _manifest()
    manifest["model"]["planted_modes"] = [planted]
    read = read_manifest(manifest)
    assert read.model.planted_modes[0].sign == Sign.pos and read.to_json_dict() == manifest
    manifest["model"]["planted_modes"] = [{**planted, "kind": "sideways"}]
    with pytest.raises(FormatError, match=r"^manifest\.json: model\.planted_modes\.0\.kind: "):
        read_manifest(manifest)


@pytest.mark.parametrize(
    ("device", "dtype", "precision"),
    [
        ("cpu", "float32", "fp32"),
        ("cuda", "bfloat16", "bf16"),
        ("cuda:0", "bfloat16", "bf16"),
        ("cuda", "float32", None),
    ],
)
def test_a_version_5_manifest_reads_with_the_precision_it_used_and_no_tie_check(
    device: str, dtype: str, precision: str | None
) -> None:
    older = copy.deepcopy(MANIFEST)
    older["format_version"] = 5
    del older["ties"]
    del older["run"]["precision"]
    older["run"].update(device=device, dtype=dtype)
    manifest = read_manifest(older)
    assert manifest.format_version == FORMAT_VERSION and manifest.ties is None
    assert manifest.run.precision == precision


def test_a_manifest_from_before_gpu_decoding_reads_as_decoded_by_pillow() -> None:
    older = copy.deepcopy(MANIFEST)
    del older["run"]["decoder"]
    assert read_manifest(older).run.decoder == "pillow"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["model"].update(n_heads="six"), "model.n_heads"),
        (lambda m: m["model"].update(grid=7), "model"),
        (lambda m: m["preprocessing"].update(resize_mode="stretch"), "preprocessing.resize_mode"),
        (lambda m: m.update(bases=["faithful", "sideways"]), "bases.1"),
        (lambda m: m.update(top_k=0), "top_k"),
        (lambda m: m["dataset"].pop("n_images"), "dataset.n_images"),
        (lambda m: m.pop("model_source"), "model_source"),
        (lambda m: m.update(unexpected=1), "unexpected"),
    ],
)
def test_a_wrong_field_is_named(change: Any, field: str) -> None:
    manifest = _manifest()
    change(manifest)
    with pytest.raises(FormatError, match=rf"^manifest\.json: {field}: "):
        read_manifest(manifest)


def test_a_newer_format_asks_for_a_newer_qkatlas() -> None:
    with pytest.raises(FormatError, match=f"format {FORMAT_VERSION + 1}, written by a newer qkatlas") as error:
        read_manifest(_manifest(format_version=FORMAT_VERSION + 1))
    assert "--model facebook/dino-vits16 --images /data/x" in str(error.value)


@pytest.mark.parametrize("version", [0, None, "1"])
def test_an_unreadable_version_says_how_to_rebuild(version: object) -> None:
    manifest = _manifest(format_version=version)
    if version is None:
        del manifest["format_version"]
    with pytest.raises(FormatError, match="rebuild it: python -m precompute") as error:
        read_manifest(manifest)
    assert "--random-init --seed 0" in str(error.value) and "--top-k 8" in str(error.value)


def test_an_o3_file_of_another_version_says_how_to_recompute_it() -> None:
    raw = {"format_version": 0, "model_source": {"id": "planted"}, "dataset": {"source": "/o3"}}
    with pytest.raises(FormatError, match=r"o3\.json .*rebuild it: python -m precompute o3 --model planted --o3 /o3"):
        read_o3(raw)


def test_model_info_spells_out_the_derived_fields() -> None:
    spec = ModelSpec("m", "timm_vit", 2, 3, 48, 16, 16, 64, ("cls", "register"))
    info = ModelInfo.from_spec(spec)
    assert (info.n_prefix, info.grid, info.n_patches) == (2, 4, 16)


def test_records_are_immutable() -> None:
    manifest = AtlasManifest.model_validate(MANIFEST)
    with pytest.raises(ValueError, match="frozen"):
        manifest.top_k = 3


def test_an_older_version_is_upgraded_one_step_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mechanism every format change relies on: old files pass through every upgrade in order."""
    steps: list[int] = []

    def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
        steps.append(raw["format_version"])
        return {**raw, "format_version": raw["format_version"] + 1}

    monkeypatch.setattr(contract, "FORMAT_VERSION", 8)
    monkeypatch.setattr(contract, "UPGRADES", {6: upgrade, 7: upgrade})
    assert read_manifest(_manifest()).format_version == 8
    assert steps == [6, 7]


def test_the_rebuild_command_pins_a_recorded_hub_commit() -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    manifest = _manifest(format_version=0)
    manifest["model_source"] = {"id": "facebook/dino-vits16", "revision": commit}
    with pytest.raises(FormatError) as error:
        read_manifest(manifest)
    assert f"--model facebook/dino-vits16 --images /data/x --out <atlas root> --top-k 8 --revision {commit}" in str(
        error.value
    )
    raw = {"format_version": 0, "model_source": {"id": "m", "revision": None}, "dataset": {"source": "/o3"}}
    with pytest.raises(FormatError) as o3_error:
        read_o3(raw)
    assert "--revision" not in str(o3_error.value)  # nothing recorded (an atlas built before it was): nothing pinned


def test_a_manifest_without_a_recorded_revision_still_reads() -> None:
    manifest = _manifest()
    manifest["model_source"]["revision"] = None
    assert read_manifest(manifest).model_source.revision is None
