"""Writing an atlas into a temporary directory and publishing it with one rename."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import IMAGE_INDEX, AtlasManifest, AtlasSummary, ImageRecord
from qkatlas.atlas.reader import published_manifest
from qkatlas.mode_effects import EffectsSummary
from qkatlas.mode_statistics import ClassRankings, StatisticsSummary
from qkatlas.render import encode_thumbnail
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


class AtlasWriter:
    """Fills ``directory`` (inside ``<root>/.partial/``) with the files of docs/atlas-format.md."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for sub in ("svd", "topk", "maps", fmt.THUMBS_DIR):
            (directory / sub).mkdir(parents=True, exist_ok=True)

    def _save(self, name: str, array: np.ndarray) -> None:
        relative, dtype = fmt.array_file(name)
        path = self.directory / relative
        path.parent.mkdir(exist_ok=True)
        np.save(path, array.astype(dtype, copy=False))

    def write_decomposition(self, dec: Decomposition) -> None:
        self._save("U", dec.U)
        self._save("V", dec.V)
        self._save("sigma", dec.sigma)
        self._save("cos", dec.cos)
        self._save("degenerate", dec.degenerate)
        self._save("query_offset", dec.query_offset)

    def write_topk(self, indices: np.ndarray, scores: np.ndarray, runner_up: np.ndarray) -> None:
        """``indices, scores: [B, L, H, M, 2, K]``; unfilled slots get index -1 and score NaN.
        ``runner_up [B, L, H, M, 2]``: each column's best score left out (-inf when none was)."""
        self._save("topk_indices", indices)
        self._save("topk_scores", np.where(indices < 0, np.nan, scores))
        self._save("topk_runner_up", runner_up)

    def write_maps(self, query: np.ndarray, key: np.ndarray) -> None:
        """Query and key maps of every top-K entry, ``[B, L, H, M, 2, K, T, T]`` (stored as float16)."""
        self._save("maps_query", query)
        self._save("maps_key", key)

    def write_statistics(
        self, summary: StatisticsSummary, rankings: ClassRankings | None, shape: tuple[int, ...]
    ) -> None:
        """The ``stats/`` arrays (docs/atlas-format.md#statistics); ``shape``: ``(B, L, H, M, 2)``, the
        columns' axes. Undefined values (no finite score, a class without images) are stored as 0; the
        counts tell them apart. ``rankings`` is ``None`` when the dataset has no class labels."""
        defined = summary.count > 0
        self._save("stats_count", summary.count.reshape(shape))
        self._save("stats_firing", summary.firing.reshape(shape))
        for name, values in (
            ("stats_mean", summary.mean),
            ("stats_std", summary.std),
            ("stats_min", summary.minimum),
            ("stats_max", summary.maximum),
        ):
            self._save(name, np.where(defined, values, 0.0).reshape(shape))
        self._save("stats_bin_low", summary.low.reshape(shape))
        self._save("stats_bin_width", summary.width.reshape(shape))
        self._save("stats_histogram", summary.histogram.reshape(*shape, -1))
        samples = summary.samples
        self._save("sample_indices", samples.indices.reshape(*shape, *samples.indices.shape[1:]))
        self._save("sample_scores", samples.scores.reshape(*shape, *samples.scores.shape[1:]))
        self._save("sample_fires", samples.fires.reshape(*shape, *samples.fires.shape[1:]))
        if rankings is None:
            return
        self._save("class_count", summary.class_count)
        class_mean = np.where(np.isfinite(summary.class_mean), summary.class_mean, 0.0)
        self._save("class_mean", class_mean.reshape(-1, *shape))
        self._save("class_top", rankings.top.reshape(*shape, -1))
        self._save("class_top_selectivity", rankings.top_selectivity.reshape(*shape, -1))
        self._save("class_modes", rankings.modes)
        self._save("class_modes_selectivity", rankings.modes_selectivity)

    def write_effects(self, summary: EffectsSummary, shape: tuple[int, int, int]) -> None:
        """The ``effects/`` arrays (docs/atlas-format.md#effects); ``shape``: ``(L, H, M)``. Top slots left
        empty (index −1) are stored with value 0."""
        for name, values in (
            ("effects_count", summary.count),
            ("effects_mean", np.nan_to_num(summary.mean)),
            ("effects_std", np.nan_to_num(summary.std)),
            ("effects_min", np.where(summary.count > 0, summary.minimum, 0.0)),
            ("effects_max", np.where(summary.count > 0, summary.maximum, 0.0)),
            ("effects_bin_low", summary.low),
            ("effects_bin_width", summary.width),
        ):
            self._save(name, values.reshape(shape))
        self._save("effects_histogram", summary.histogram.reshape(*shape, -1))
        self._save("effects_top_indices", summary.top_indices.reshape(*shape, -1))
        values = np.where(summary.top_indices >= 0, summary.top_values, 0.0)
        self._save("effects_top_values", values.reshape(*shape, -1))

    def write_thumbnail(self, index: int, image: np.ndarray) -> None:
        """``image``: uint8 ``[S, S, 3]``, the crop exactly as the model saw it (written atomically)."""
        path = self.directory / fmt.thumbnail_name(index)
        tmp = path.with_name(f".{path.name}.tmp")
        with _removed_on_failure(tmp):
            tmp.write_bytes(encode_thumbnail(image))
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
