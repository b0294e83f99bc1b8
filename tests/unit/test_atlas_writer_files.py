"""The atlas writer's file writes match their plain references byte for byte: arrays ``np.save``,
thumbnails Pillow's encoding into memory, whatever the layout or the number of threads."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize(("chunk", "direct_buffer"), [(1000, 8192), (4096, 12288), (5000, 20480), (1 << 20, 1 << 23)])
@pytest.mark.parametrize("name", list(_arrays()))
def test_save_array_in_chunks_and_past_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, chunk: int, direct_buffer: int
) -> None:
    """Every array written chunk by chunk (a chunk shorter, as long as or longer than a row; rows of
    2 × 4 × 2 × 7 × 7 values for the payload) and with O_DIRECT, where the test folder allows it,
    through buffers of two to 2,048 blocks: the blocks straddle the rows and the last one is padded,
    then cut."""
    monkeypatch.setattr(atlas_writer, "_CHUNK_BYTES", chunk)
    monkeypatch.setattr(atlas_writer, "_DIRECT_BYTES", 0)
    monkeypatch.setattr(atlas_writer, "_DIRECT_BUFFER", direct_buffer)
    array = _arrays()[name]
    save_array(tmp_path / "ours.npy", array)
    np.save(tmp_path / "reference.npy", array)
    assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "reference.npy").read_bytes()


def test_save_array_where_o_direct_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system that refuses O_DIRECT (tmpfs, some FUSE ones) gets the same file, written buffered."""
    opened = os.open

    def without_direct(path: Any, flags: int, *args: Any) -> int:
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")
        return opened(path, flags, *args)

    monkeypatch.setattr(atlas_writer, "_DIRECT_BYTES", 0)
    monkeypatch.setattr(os, "open", without_direct)
    array = _arrays()["strided half of a payload"]
    save_array(tmp_path / "ours.npy", array)
    np.save(tmp_path / "reference.npy", array)
    assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "reference.npy").read_bytes()


def test_a_full_disk_during_a_direct_write_raises_the_disks_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC from an O_DIRECT write reaches the caller as it is (the job turns it into its disk-full
    message), whatever is left to clean up."""
    written = os.write

    def full(fd: int, data: Any) -> int:
        if len(data) > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        return written(fd, data)

    monkeypatch.setattr(atlas_writer, "_DIRECT_BYTES", 0)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError) as raised:
        save_array(tmp_path / "ours.npy", _arrays()["strided half of a payload"])
    assert raised.value.errno == errno.ENOSPC


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
    runner_up = rng.random(indices.shape[:-1]).astype(np.float32)
    writer.write_winners(indices, scores, runner_up, payload[..., 0, :, :], payload[..., 1, :, :])

    for index, image in zip([3, 8, 11, 12, 40], images, strict=True):
        assert (tmp_path / "atlas" / "thumbs" / f"{index:08d}.jpg").read_bytes() == encode_thumbnail(image)
    assert np.array_equal(np.load(tmp_path / "atlas" / "maps" / "query.npy"), payload[..., 0, :, :])
    assert np.array_equal(np.load(tmp_path / "atlas" / "maps" / "key.npy"), payload[..., 1, :, :])
    assert np.array_equal(np.load(tmp_path / "atlas" / "topk" / "indices.npy"), indices)
    stored = np.load(tmp_path / "atlas" / "topk" / "scores.npy")
    assert np.isnan(stored[0, 0, 0, 0, 0, -1])
    assert np.array_equal(stored[indices >= 0], scores[indices >= 0])
    assert np.array_equal(np.load(tmp_path / "atlas" / "topk" / "runner_up.npy"), runner_up)
