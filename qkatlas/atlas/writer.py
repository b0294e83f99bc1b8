"""Writing an atlas into a temporary directory and publishing it with one rename."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import json
import mmap
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import IMAGE_INDEX, AtlasManifest, AtlasSummary, ImageRecord
from qkatlas.atlas.reader import published_manifest
from qkatlas.mode_effects import EffectsSummary
from qkatlas.mode_statistics import ClassRankings, StatisticsSummary
from qkatlas.render import save_thumbnail
from qkatlas.svd import Decomposition


def write_json_atomic(path: Path, payload: object) -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    text = json.dumps(payload, indent=1, allow_nan=False)
    with _removed_on_failure(tmp):
        tmp.write_text(text)
        os.replace(tmp, path)


@contextlib.contextmanager
def _removed_on_failure(tmp: Path) -> Iterator[None]:
    """Delete the temporary file when writing it fails (a full disk must not leave half a file)."""
    try:
        yield
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: Files an ``AtlasWriter`` writes at once. numpy's copies and file writes and Pillow's JPEG encoder
#: (into a file) release the GIL, so several files go through several cores and keep the disk's
#: queue full: on the 2-core VM four threads wrote a ViT-B/16 atlas's arrays at 0.97 × the disk's rate, one
#: at 0.68 × (``benchmarks/write_bench.py``).
WRITE_THREADS = 4

#: Bytes of an array written at a time (``save_array``): large enough for sequential writes, small
#: enough to bound the copy of a strided array.
_CHUNK_BYTES = 64 * 1024 * 1024
#: Arrays at least this large are written with ``O_DIRECT`` (``save_array``), in whole blocks of
#: ``_DIRECT_ALIGN`` bytes (a multiple of every common logical block size).
_DIRECT_BYTES = 16 * 1024 * 1024
_DIRECT_ALIGN = 4096
#: The page-aligned buffer of an ``O_DIRECT`` write: ``dd bs=8M``'s block, reused for every write.
_DIRECT_BUFFER = 8 * 1024 * 1024


def decomposition_arrays(dec: Decomposition) -> dict[str, np.ndarray]:
    """The ``svd/`` arrays of ``dec``, by their names in docs/atlas-format.md (``qkatlas.atlas.format``)."""
    return {
        "U": dec.U,
        "V": dec.V,
        "sigma": dec.sigma,
        "cos": dec.cos,
        "degenerate": dec.degenerate,
        "query_offset": dec.query_offset,
    }


class AtlasWriter:
    """Fills ``directory`` (inside ``<root>/.partial/``) with the files of docs/atlas-format.md, up to
    ``threads`` files at once. ``pool_cpu_seconds``: CPU time spent by the threads it started (the
    calling thread's own is the caller's to measure)."""

    def __init__(self, directory: Path, threads: int = WRITE_THREADS) -> None:
        self.directory = directory
        self.threads = threads
        self.pool_cpu_seconds = 0.0
        self._cpu_lock = threading.Lock()
        for sub in ("svd", "topk", "maps", fmt.THUMBS_DIR):
            (directory / sub).mkdir(parents=True, exist_ok=True)

    def _save(self, name: str, array: np.ndarray) -> None:
        relative, dtype = fmt.array_file(name)
        path = self.directory / relative
        path.parent.mkdir(exist_ok=True)
        save_array(path, array.astype(dtype, copy=False))

    def _in_parallel(self, tasks: Sequence[tuple[object, ...]], run: Callable[..., object]) -> None:
        """``run(*task)`` for every task on up to ``threads`` threads; the first failure is raised once
        every task has ended (a full disk must not leave a thread writing after the job reports it)."""
        if self.threads <= 1 or len(tasks) <= 1:
            for task in tasks:
                run(*task)
            return

        def timed(*task: object) -> None:
            start = time.thread_time()
            try:
                run(*task)
            finally:
                with self._cpu_lock:
                    self.pool_cpu_seconds += time.thread_time() - start

        with ThreadPoolExecutor(min(self.threads, len(tasks)), thread_name_prefix="qkatlas-atlas") as pool:
            futures = [pool.submit(timed, *task) for task in tasks]
        for future in futures:
            future.result()

    def write_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Write arrays by their names in docs/atlas-format.md (``qkatlas.atlas.format``), several files at
        once, the largest first (so the last to finish is a small one)."""
        names = sorted(arrays, key=lambda name: -arrays[name].nbytes)
        self._in_parallel([(name, arrays[name]) for name in names], self._save)

    def write_decomposition(self, dec: Decomposition) -> None:
        self.write_arrays(decomposition_arrays(dec))

    def write_winners(
        self, indices: np.ndarray, scores: np.ndarray, runner_up: np.ndarray, query: np.ndarray, key: np.ndarray
    ) -> None:
        """The top-K, ``indices, scores: [B, L, H, M, 2, K]`` (unfilled slots get index -1 and score NaN),
        ``runner_up [B, L, H, M, 2]`` (each column's best score left out, -inf when none was), and the
        query and key maps of every entry, ``[B, L, H, M, 2, K, T, T]`` (stored as float16)."""
        self.write_arrays(
            {
                "topk_indices": indices,
                "topk_scores": np.where(indices < 0, np.nan, scores),
                "topk_runner_up": runner_up,
                "maps_query": query,
                "maps_key": key,
            }
        )

    def write_statistics(
        self, summary: StatisticsSummary, rankings: ClassRankings | None, shape: tuple[int, ...]
    ) -> None:
        """The ``stats/`` arrays (docs/atlas-format.md#statistics); ``shape``: ``(B, L, H, M, 2)``, the
        columns' axes. Undefined values (no finite score, a class without images) are stored as 0; the
        counts tell them apart. ``rankings`` is ``None`` when the dataset has no class labels."""
        defined = summary.count > 0
        arrays = {
            "stats_count": summary.count.reshape(shape),
            "stats_firing": summary.firing.reshape(shape),
            "stats_mean": np.where(defined, summary.mean, 0.0).reshape(shape),
            "stats_std": np.where(defined, summary.std, 0.0).reshape(shape),
            "stats_min": np.where(defined, summary.minimum, 0.0).reshape(shape),
            "stats_max": np.where(defined, summary.maximum, 0.0).reshape(shape),
            "stats_bin_low": summary.low.reshape(shape),
            "stats_bin_width": summary.width.reshape(shape),
            "stats_histogram": summary.histogram.reshape(*shape, -1),
        }
        samples = summary.samples
        arrays["sample_indices"] = samples.indices.reshape(*shape, *samples.indices.shape[1:])
        arrays["sample_scores"] = samples.scores.reshape(*shape, *samples.scores.shape[1:])
        arrays["sample_fires"] = samples.fires.reshape(*shape, *samples.fires.shape[1:])
        if rankings is not None:
            class_mean = np.where(np.isfinite(summary.class_mean), summary.class_mean, 0.0)
            arrays["class_count"] = summary.class_count
            arrays["class_mean"] = class_mean.reshape(-1, *shape)
            arrays["class_top"] = rankings.top.reshape(*shape, -1)
            arrays["class_top_selectivity"] = rankings.top_selectivity.reshape(*shape, -1)
            arrays["class_modes"] = rankings.modes
            arrays["class_modes_selectivity"] = rankings.modes_selectivity
        self.write_arrays(arrays)

    def write_effects(self, summary: EffectsSummary, shape: tuple[int, int, int]) -> None:
        """The ``effects/`` arrays (docs/atlas-format.md#effects); ``shape``: ``(L, H, M)``. Top slots left
        empty (index −1) are stored with value 0."""
        has_values = summary.count > 0
        arrays = {
            "effects_count": summary.count,
            "effects_mean": np.nan_to_num(summary.mean),
            "effects_std": np.nan_to_num(summary.std),
            "effects_min": np.where(has_values, summary.minimum, 0.0),
            "effects_max": np.where(has_values, summary.maximum, 0.0),
            "effects_bin_low": summary.low,
            "effects_bin_width": summary.width,
        }
        arrays = {name: values.reshape(shape) for name, values in arrays.items()}
        arrays["effects_histogram"] = summary.histogram.reshape(*shape, -1)
        arrays["effects_top_indices"] = summary.top_indices.reshape(*shape, -1)
        top_values = np.where(summary.top_indices >= 0, summary.top_values, 0.0)
        arrays["effects_top_values"] = top_values.reshape(*shape, -1)
        self.write_arrays(arrays)

    def write_thumbnails(self, indices: Sequence[int], images: Sequence[np.ndarray]) -> None:
        """The thumbnails of the dataset images ``indices``, several at once (Pillow encodes without the
        GIL); ``images``: uint8 ``[S, S, 3]`` each, the crops exactly as the model saw them."""
        self._in_parallel(list(zip(indices, images, strict=True)), self.write_thumbnail)

    def write_thumbnail(self, index: int, image: np.ndarray) -> None:
        """``image``: uint8 ``[S, S, 3]``, the crop exactly as the model saw it (written atomically)."""
        path = self.directory / fmt.thumbnail_name(index)
        tmp = path.with_name(f".{path.name}.tmp")
        with _removed_on_failure(tmp):
            save_thumbnail(image, tmp)
            os.replace(tmp, path)

    def thumbnail_indices(self) -> set[int]:
        """Dataset indices of the thumbnails written so far."""
        return {int(path.stem) for path in (self.directory / fmt.THUMBS_DIR).glob("*.jpg")}

    def remove_thumbnails_except(self, keep: set[int]) -> None:
        """Drop the thumbnails of images no longer shown (winners, samples and top-effect images), and any
        half-written file."""
        for index in self.thumbnail_indices() - keep:
            (self.directory / fmt.thumbnail_name(index)).unlink()
        for partial in (self.directory / fmt.THUMBS_DIR).glob(".*.tmp"):
            partial.unlink()

    def write_summary(self, summary: AtlasSummary) -> None:
        write_json_atomic(self.directory / fmt.SUMMARY, summary.to_json_dict())

    def write_images(self, images: dict[int, ImageRecord]) -> None:
        """``images.json``: the record of every scored image, by dataset index."""
        write_json_atomic(self.directory / fmt.IMAGES, IMAGE_INDEX.dump_python(images, mode="json"))

    def publish(self, manifest: AtlasManifest, final: Path, discard: str | None = None) -> Path:
        """Write the manifest last, then move the atlas to ``final`` (replacing an older one).

        An older atlas at ``final`` is swapped out in one step where the system can (Linux), so a
        service watching the folder never sees the name missing, then deleted.

        Results that depend only on the weights (``o3.json``) carry over from the atlas being replaced
        when it was built from the same weights. Files matching the glob ``discard`` (the job's
        checkpoints) are deleted only once the manifest is written, so a failure before then (a full
        disk) leaves them for ``--resume``. The folder of partial atlases is removed once it is empty.
        """
        _carry_weight_results(final, self.directory, manifest)
        write_json_atomic(self.directory / fmt.MANIFEST, manifest.to_json_dict())
        for path in self.directory.glob(discard) if discard else ():
            path.unlink()
        if not final.exists():
            os.replace(self.directory, final)
        elif _exchange(self.directory, final):
            shutil.rmtree(self.directory, ignore_errors=True)  # now the old atlas
        else:
            old = final.parent / fmt.PARTIAL_DIR / f"{final.name}.replaced-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            os.replace(self.directory, final)
            shutil.rmtree(old, ignore_errors=True)
        partials = self.directory.parent
        if partials.name == fmt.PARTIAL_DIR:
            with contextlib.suppress(OSError):  # not empty: another model's partial atlas, kept
                partials.rmdir()
        return final


def save_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a ``.npy`` file, byte for byte what ``np.save`` writes, in chunks of about
    ``_CHUNK_BYTES``.

    A strided array (the maps: halves of the top-K's interleaved payload) is made contiguous one chunk
    at a time: ``np.save`` hands it to ``tofile``, which writes it one element at a time (about 100 MB/s
    of CPU work, whatever the disk). An array of ``_DIRECT_BYTES`` or more goes to the disk directly
    (``O_DIRECT``, past the page cache) where the file system allows it: copying hundreds of MB into the
    page cache is CPU work in the kernel that, on a busy host, is slower than the disk itself. No
    ``fsync``: the atlas is published by a rename (``publish``).
    """
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    if array.ndim > 0 and array.nbytes >= _DIRECT_BYTES and _write_direct(path, header.getvalue(), array):
        return
    with path.open("wb") as file:
        file.write(header.getvalue())
        for chunk in _contiguous_chunks(array):
            chunk.tofile(file)


def _contiguous_chunks(array: np.ndarray) -> Iterator[np.ndarray]:
    """``array``'s rows, about ``_CHUNK_BYTES`` at a time, each made contiguous."""
    if array.ndim == 0 or len(array) == 0:
        yield np.ascontiguousarray(array)
        return
    rows = max(1, _CHUNK_BYTES // max(array[0].nbytes, 1))
    for first in range(0, len(array), rows):
        yield np.ascontiguousarray(array[first : first + rows])


def _write_direct(path: Path, header: bytes, array: np.ndarray) -> bool:
    """Write the ``.npy`` file with ``O_DIRECT``: the bytes go through a page-aligned buffer of
    ``_DIRECT_BUFFER`` bytes in whole blocks of ``_DIRECT_ALIGN``, the last one padded, then the file is
    cut to its size. ``False``, with
    nothing left at ``path``, where the file system refuses ``O_DIRECT`` (tmpfs, some network and FUSE
    file systems)."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        return False
    staging = mmap.mmap(-1, _DIRECT_BUFFER + _DIRECT_ALIGN)  # page-aligned, as O_DIRECT requires
    buffer = np.frombuffer(staging, np.uint8)
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | direct, 0o666)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            return False
        try:
            _fill_direct(fd, staging, buffer, header, array)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            path.unlink(missing_ok=True)  # O_DIRECT accepted at open, refused at write: write it buffered
            return False
        finally:
            os.close(fd)
    finally:
        del buffer
        # A failed write's traceback may still hold a view of the buffer; the mapping then goes with it.
        with contextlib.suppress(BufferError):
            staging.close()
    return True


def _fill_direct(fd: int, staging: mmap.mmap, buffer: np.ndarray, header: bytes, array: np.ndarray) -> None:
    """``_write_direct``'s writes: ``buffer`` is ``staging`` seen as bytes. Rows of ``array`` are copied
    straight into it (one copy, strided or not)."""
    pending = total = len(header)
    buffer[:pending] = np.frombuffer(header, np.uint8)
    rows = _rows(array, (len(buffer) - _DIRECT_ALIGN) // 2)
    per_fill = max(1, (len(buffer) - _DIRECT_ALIGN) // max(rows[0].nbytes, 1)) if len(rows) else 1
    for first in range(0, len(rows), per_fill):
        part = rows[first : first + per_fill]
        # pending stays a multiple of the item size: the header's 128 bytes, whole items, whole blocks
        np.copyto(buffer[pending : pending + part.nbytes].view(array.dtype).reshape(part.shape), part)
        pending, total = pending + part.nbytes, total + part.nbytes
        whole = pending - pending % _DIRECT_ALIGN
        _write_all(fd, staging, whole)
        buffer[: pending - whole] = buffer[whole:pending]  # the tail, shorter than a block
        pending -= whole
    if pending:
        padded = -(-pending // _DIRECT_ALIGN) * _DIRECT_ALIGN
        buffer[pending:padded] = 0
        _write_all(fd, staging, padded)
    os.ftruncate(fd, total)


def _rows(array: np.ndarray, limit: int) -> np.ndarray:
    """``array`` with its leading axes merged into rows of at most ``limit`` bytes (as few rows as can
    be): a view when its strides allow (the maps' do), else a copy."""
    for axis in range(1, array.ndim + 1):
        row = array.shape[axis:]
        if int(np.prod(row, dtype=np.int64)) * array.itemsize <= limit:
            return array.reshape(-1, *row)
    return array.reshape(-1)


def _write_all(fd: int, staging: mmap.mmap, length: int) -> None:
    with memoryview(staging) as view:
        written = 0
        while written < length:
            written += os.write(fd, view[written:length])


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (``renameat2(RENAME_EXCHANGE)``); False where the C library,
    the kernel or the file system cannot, so the caller falls back to two renames."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(a), None, str(b))


def _carry_weight_results(previous: Path, new: Path, manifest: AtlasManifest) -> None:
    previous_manifest = published_manifest(previous)
    if previous_manifest is None:
        return
    same = previous_manifest.model_source.same_weights(manifest.model_source)
    if same and (previous / fmt.O3).is_file():
        shutil.copyfile(previous / fmt.O3, new / fmt.O3)
