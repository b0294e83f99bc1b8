"""Decoding an image source in worker processes, in fixed-boundary batches of model inputs."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from qkatlas.images.decoding import ImageDecodeError, load_image_file
from qkatlas.images.model_input import to_model_input
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.images.sources import ImageSource


@dataclass
class Batch:
    """One chunk of ``batch_size`` selected items, decoded.

    ``indices``: int64 ``[b]`` dataset indices of the images that decoded, in order; ``images``: uint8
    ``[b, 3, crop, crop]`` those images as the model sees them; ``skipped``: ``(index, source, reason)``
    of the chunk's items that failed. ``b`` may be smaller than the chunk (even 0) when items failed.
    """

    indices: torch.Tensor
    images: torch.Tensor
    skipped: list[tuple[int, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def pin_memory(self) -> Batch:
        """Called by the DataLoader's pinning thread (``pin_memory=True``)."""
        return Batch(self.indices.pin_memory(), self.images.pin_memory(), self.skipped)


@dataclass
class SharedBatch:
    """One chunk of selected items, decoded once and seen through several preprocessings.

    ``views[p]`` is the chunk as preprocessing ``p`` (in the order given to ``iter_shared_batches``)
    turns it into model inputs; every view lists the same chunk, so their ``indices`` and ``skipped``
    agree unless one preprocessing fails on an image that another accepts.
    """

    views: tuple[Batch, ...]

    def pin_memory(self) -> SharedBatch:
        """Called by the DataLoader's pinning thread (``pin_memory=True``)."""
        return SharedBatch(tuple(view.pin_memory() for view in self.views))


# (dataset index, one image or None per preprocessing, one reason or None per preprocessing): what
# one worker returns for one item.
_Decoded = tuple[int, list[torch.Tensor | None], list[str | None]]


class _DecodeDataset(Dataset[_Decoded]):
    """Maps a dataset index to its model inputs, one per preprocessing, from one decoding of the file;
    failures become a reason instead of an exception."""

    def __init__(self, source: ImageSource, preps: Sequence[Preprocessing]) -> None:
        self.items = source.items
        self.preps = tuple(preps)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> _Decoded:
        path = self.items[index].path
        images, reasons = pillow_model_inputs(lambda: load_image_file(path), self.preps)
        return index, images, reasons


def pillow_model_inputs(
    load: Callable[[], Image.Image], preps: Sequence[Preprocessing]
) -> tuple[list[torch.Tensor | None], list[str | None]]:
    """One image (``load()``, Pillow) → its model input for every preprocessing, uint8 ``[3, crop, crop]``
    on the CPU, or ``None`` and the reason it failed. Never raises for a bad image: one bad image must
    never abort a run over a million."""
    n_preps = len(preps)
    try:
        image = load()
    except ImageDecodeError as exc:
        return [None] * n_preps, [exc.reason] * n_preps
    except Exception as exc:
        return [None] * n_preps, [f"unexpected {type(exc).__name__}: {exc}"] * n_preps
    images: list[torch.Tensor | None] = []
    reasons: list[str | None] = []
    for prep in preps:
        try:
            images.append(to_model_input(image, prep))
            reasons.append(None)
        except Exception as exc:
            images.append(None)
            reasons.append(f"unexpected {type(exc).__name__}: {exc}")
    return images, reasons


class _Collate:
    """Stacks each preprocessing's images of a chunk and lists the failed ones (picklable for workers)."""

    def __init__(self, source: ImageSource, crops: Sequence[int]) -> None:
        self.sources = [item.source for item in source.items]
        self.crops = tuple(crops)

    def __call__(self, decoded: list[_Decoded]) -> SharedBatch:
        return SharedBatch(tuple(self._view(decoded, p, crop) for p, crop in enumerate(self.crops)))

    def _view(self, decoded: list[_Decoded], p: int, crop: int) -> Batch:
        indices = [index for index, images, _ in decoded if images[p] is not None]
        kept = [image for _, images, _ in decoded if (image := images[p]) is not None]
        skipped = [
            (index, self.sources[index], reasons[p] or "") for index, images, reasons in decoded if images[p] is None
        ]
        stacked = torch.stack(kept) if kept else torch.empty((0, 3, crop, crop), dtype=torch.uint8)
        return Batch(torch.tensor(indices, dtype=torch.int64), stacked, skipped)


def count_batches(n_items: int, batch_size: int) -> int:
    """Number of batches ``iter_batches`` yields for ``n_items`` selected items."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return math.ceil(max(n_items, 0) / batch_size)


def select_items(
    source: ImageSource,
    preps: Sequence[Preprocessing],
    *,
    batch_size: int,
    indices: Sequence[int] | None,
    start: int,
) -> list[int]:
    """The dataset indices a stream decodes, in order: ``indices`` (or all items) without the first
    ``start``. Checks the arguments every stream shares (``ValueError``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if not preps:
        raise ValueError("at least one preprocessing is needed")
    n_items = len(source.items)
    if indices is None:
        return list(range(start, n_items))
    selection = [int(index) for index in indices][start:]
    bad = [index for index in selection if not 0 <= index < n_items]
    if bad:
        raise ValueError(f"indices out of range for a source of {n_items} images: {bad[:5]}")
    return selection


def iter_batches(
    source: ImageSource,
    prep: Preprocessing,
    *,
    batch_size: int,
    workers: int = 0,
    indices: Sequence[int] | None = None,
    start: int = 0,
    pin_memory: bool = False,
) -> Iterator[Batch]:
    """``iter_shared_batches`` for one preprocessing: the batches themselves."""
    for shared in iter_shared_batches(
        source, (prep,), batch_size=batch_size, workers=workers, indices=indices, start=start, pin_memory=pin_memory
    ):
        yield shared.views[0]


def iter_shared_batches(
    source: ImageSource,
    preps: Sequence[Preprocessing],
    *,
    batch_size: int,
    workers: int = 0,
    indices: Sequence[int] | None = None,
    start: int = 0,
    pin_memory: bool = False,
) -> Iterator[SharedBatch]:
    """Decode the selected images of ``source`` in ``workers`` processes, in order, batch by batch,
    each image once, and turn it into the model input of every preprocessing of ``preps``.

    The selection is ``indices`` (dataset indices, in the given order) or all items; ``start`` skips
    the first ``start`` selected items (resume). Batches are consecutive chunks of ``batch_size``
    *selected* items, so their boundaries never depend on which images fail to decode: a failed image
    is listed in its chunk's ``Batch.skipped`` and the batch is simply smaller (possibly empty — it is
    still yielded, so progress and skip lists stay complete). ``workers=0`` decodes in-process. At most
    ``2 × workers`` batches are in flight, so memory does not grow with the number of images. Every
    view is computed from the same decoded pixels with ``to_model_input``, so a model's inputs are the
    same whether it shares the stream with other models or not.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    selection = select_items(source, preps, batch_size=batch_size, indices=indices, start=start)
    if not selection:
        return
    loader = DataLoader(
        _DecodeDataset(source, preps),
        batch_size=batch_size,
        sampler=selection,  # a plain sequence: iterated in order, so chunks are fixed
        num_workers=workers,
        collate_fn=_Collate(source, [prep.crop for prep in preps]),
        pin_memory=pin_memory and torch.cuda.is_available(),
        drop_last=False,
    )
    yield from loader
