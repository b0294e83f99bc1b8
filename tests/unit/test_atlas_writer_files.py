"""The atlas writer's file writes match their plain references byte for byte: arrays ``np.save``,
thumbnails Pillow's encoding into memory, whatever the layout or the number of threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qkatlas.atlas import AtlasWriter
from qkatlas.atlas import writer as atlas_writer
from qkatlas.atlas.writer import save_array
from qkatlas.render import encode_thumbnail, save_thumbnail


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    payload = rng.standard_normal((2, 3, 5, 2, 4, 2, 7, 7)).astype(np.float16)  # [..., K, 2, T, T]
    return {
        "a scalar": np.array(2.5),
        "empty": np.zeros((0, 3), np.int64),
        "small contiguous": rng.random((5, 7)),
        "strided half of a payload": payload[..., 0, :, :],
        "bool": rng.random((3, 4)) > 0.5,
    }


@pytest.mark.parametrize("name", list(_arrays()))
def test_save_array_writes_what_np_save_writes(tmp_path: Path, name: str) -> None:
    array = _arrays()[name]
    save_array(tmp_path / "ours.npy", array)
    np.save(tmp_path / "reference.npy", array)
    assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "reference.npy").read_bytes()


def test_save_array_in_several_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A strided array larger than a chunk is written chunk by chunk (rows of 2 × 4 × 2 × 7 × 7 values)."""
    monkeypatch.setattr(atlas_writer, "_CHUNK_BYTES", 1000)
    array = _arrays()["strided half of a payload"]
    save_array(tmp_path / "ours.npy", array)
    np.save(tmp_path / "reference.npy", array)
    assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "reference.npy").read_bytes()


def test_thumbnails_written_to_files_are_the_encoded_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    save_thumbnail(image, tmp_path / "one.jpg")
    assert (tmp_path / "one.jpg").read_bytes() == encode_thumbnail(image)


@pytest.mark.parametrize("threads", [1, 3])
def test_the_writer_gives_the_same_files_with_any_number_of_threads(tmp_path: Path, threads: int) -> None:
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(5)]
    payload = rng.standard_normal((2, 1, 1, 3, 2, 4, 2, 5, 5)).astype(np.float16)
    indices = rng.integers(0, 9, (2, 1, 1, 3, 2, 4))
    indices[0, 0, 0, 0, 0, -1] = -1  # an empty slot: its score is stored as NaN
    scores = rng.random(indices.shape).astype(np.float32)
    writer = AtlasWriter(tmp_path / "atlas", threads=threads)
    writer.write_thumbnails([3, 8, 11, 12, 40], images)
    writer.write_winners(indices, scores, payload[..., 0, :, :], payload[..., 1, :, :])

    for index, image in zip([3, 8, 11, 12, 40], images, strict=True):
        assert (tmp_path / "atlas" / "thumbs" / f"{index:08d}.jpg").read_bytes() == encode_thumbnail(image)
    assert np.array_equal(np.load(tmp_path / "atlas" / "maps" / "query.npy"), payload[..., 0, :, :])
    assert np.array_equal(np.load(tmp_path / "atlas" / "maps" / "key.npy"), payload[..., 1, :, :])
    assert np.array_equal(np.load(tmp_path / "atlas" / "topk" / "indices.npy"), indices)
    stored = np.load(tmp_path / "atlas" / "topk" / "scores.npy")
    assert np.isnan(stored[0, 0, 0, 0, 0, -1])
    assert np.array_equal(stored[indices >= 0], scores[indices >= 0])
