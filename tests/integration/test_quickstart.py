"""The main job behind ``./qk up``: the offline demo, and the Imagenette download path."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from qkatlas.atlas import find_atlases
from qkatlas.images import open_image_source
from quickstart.default_atlases import fetch_imagenette
from quickstart.up import main
from tests.helpers.notebooks import EXAMPLE_NOTEBOOK, run_notebook


def test_offline_demo_builds_labelled_atlases_and_reuses_them(
    tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--offline", "--no-serve", "--atlas-dir", str(tmp_path / "atlases"), "--data-dir", str(tmp_path / "data")]
    assert main([*args, "--photos", str(photo_dir), "--workers", "0"]) == 0
    assert "OFFLINE DEMO" in capsys.readouterr().out
    atlases, failures = find_atlases(tmp_path / "atlases")
    assert not failures
    sources = {a.manifest.model_source.id: a.manifest.model_source for a in atlases}
    assert sources["planted"].planted is True
    assert sources["facebook/dino-vits16"].random_init is True
    # The attention moved by each mode: measured where it is cheap (the planted model), not for the ViT-S/16
    # (about 8 minutes more on a 2-core CPU: docs/benchmarks.md).
    effects = {a.manifest.model_source.id: a.effects is not None for a in atlases}
    assert effects == {"planted": True, "facebook/dino-vits16": False}
    assert main([*args, "--photos", str(photo_dir)]) == 0  # second run: nothing rebuilt
    assert capsys.readouterr().out.count("already built") == 2
    # The example notebook runs end to end on the demo (examples/atlas_from_python.ipynb).
    printed = run_notebook(EXAMPLE_NOTEBOOK, {"QKATLAS_ATLAS": str(tmp_path / "atlases")}, tmp_path, monkeypatch)
    assert "planted" in printed and "selectivity" in printed and "band 0" in printed, printed


def test_imagenette_is_fetched_once_with_class_names(tmp_path: Path) -> None:
    archive = tmp_path / "imagenette.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for split, wnid in (("val", "n01440764"), ("val", "n03888605"), ("train", "n01440764")):
            buffer = io.BytesIO()
            Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, format="JPEG")
            info = tarfile.TarInfo(f"imagenette2-320/{split}/{wnid}/{wnid}_{split}.JPEG")
            info.size = buffer.tell()
            buffer.seek(0)
            tar.addfile(info, buffer)
    val = fetch_imagenette(tmp_path / "data", url=archive.as_uri())
    source = open_image_source(val)
    assert sorted(item.label or "" for item in source.items) == ["parachute", "tench"]
    archive.unlink()  # a second call must not download again
    assert fetch_imagenette(tmp_path / "data", url=archive.as_uri()) == val
