"""Publishing over an existing atlas: the name never disappears, and nothing of the old one remains."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

import qkatlas.atlas.writer as writer
from qkatlas.atlas import Atlas, AtlasWriter, find_atlases
from qkatlas.atlas.contract import read_manifest


def _publish(source: Path, root: Path, name: str) -> None:
    partial = root / ".partial" / name
    shutil.copytree(source, partial)
    manifest = read_manifest(json.loads((partial / "manifest.json").read_text()))
    AtlasWriter(partial).publish(manifest, root / name)


def _sources(atlas_root: Path) -> list[Path]:
    atlases, _ = find_atlases(atlas_root)
    assert len(atlases) == 2
    return [atlas.path for atlas in atlases]


def test_replacing_an_atlas_never_leaves_its_name_missing(atlas_root: Path, tmp_path: Path) -> None:
    sources = _sources(atlas_root)
    final = tmp_path / "atlas"
    _publish(sources[0], tmp_path, final.name)
    missing = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if not (final / "manifest.json").is_file():
                missing.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for round_ in range(20):
            _publish(sources[(round_ + 1) % 2], tmp_path, final.name)
    finally:
        done.set()
        watcher.join()
    assert not missing.is_set(), "a reader saw no atlas while one replaced another"
    assert Atlas.open(final).slug == Atlas.open(sources[20 % 2]).slug
    assert not (tmp_path / ".partial").exists()  # every replaced atlas deleted, then the emptied folder


def test_without_an_atomic_swap_it_falls_back_to_two_renames(
    atlas_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "_exchange", lambda _a, _b: False)
    old, new = _sources(atlas_root)
    _publish(old, tmp_path, "atlas")
    _publish(new, tmp_path, "atlas")
    assert Atlas.open(tmp_path / "atlas").revision == Atlas.open(new).revision
    assert not (tmp_path / ".partial").exists()


def test_the_partial_atlases_of_other_models_are_kept(atlas_root: Path, tmp_path: Path) -> None:
    other = tmp_path / ".partial" / "other-model"
    other.mkdir(parents=True)
    (other / "checkpoint.safetensors").write_bytes(b"another model's resume point")
    _publish(_sources(atlas_root)[0], tmp_path, "atlas")
    assert (other / "checkpoint.safetensors").read_bytes() == b"another model's resume point"
