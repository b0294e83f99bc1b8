"""Decoding an image source in worker processes, in fixed-boundary batches of model inputs."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset

from qkatlas.images.decoding import ImageDecodeError, load_image_file
from qkatlas.images.model_input import to_model_input
from qkatlas.images.sources import ImageSource
from qkatlas.models.base import Preprocessing


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


# (dataset index, image or None, reason or None): what one worker returns for one item.
_Decoded = tuple[int, torch.Tensor | None, str | None]


class _DecodeDataset(Dataset[_Decoded]):
    """Maps a dataset index to its model input; failures become a reason instead of an exception."""

    def __init__(self, source: ImageSource, prep: Preprocessing) -> None:
        self.items = source.items
        self.prep = prep

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> _Decoded:
        try:
            image = load_image_file(self.items[index].path)
            return index, to_model_input(image, self.prep), None
        except ImageDecodeError as exc:
            return index, None, exc.reason
        except Exception as exc:  # one bad image must never abort a run over a million
            return index, None, f"unexpected {type(exc).__name__}: {exc}"


class _Collate:
    """Stacks the decoded images of a chunk and lists the failed ones (picklable for workers)."""

    def __init__(self, source: ImageSource, crop: int) -> None:
        self.sources = [item.source for item in source.items]
        self.crop = crop

    def __call__(self, decoded: list[_Decoded]) -> Batch:
        indices = [index for index, image, _ in decoded if image is not None]
        images = [image for _, image, _ in decoded if image is not None]
        skipped = [(index, self.sources[index], reason or "") for index, image, reason in decoded if image is None]
        stacked = torch.stack(images) if images else torch.empty((0, 3, self.crop, self.crop), dtype=torch.uint8)
        return Batch(torch.tensor(indices, dtype=torch.int64), stacked, skipped)


def count_batches(n_items: int, batch_size: int) -> int:
    """Number of batches ``iter_batches`` yields for ``n_items`` selected items."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return math.ceil(max(n_items, 0) / batch_size)


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
    """Decode the selected images of ``source`` in ``workers`` processes, in order, batch by batch.

    The selection is ``indices`` (dataset indices, in the given order) or all items; ``start`` skips
    the first ``start`` selected items (resume). Batches are consecutive chunks of ``batch_size``
    *selected* items, so their boundaries never depend on which images fail to decode: a failed image
    is listed in its chunk's ``Batch.skipped`` and the batch is simply smaller (possibly empty — it is
    still yielded, so progress and skip lists stay complete). ``workers=0`` decodes in-process. At most
    ``2 × workers`` batches are in flight, so memory does not grow with the number of images.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    n_items = len(source.items)
    if indices is None:
        selection: list[int] = list(range(start, n_items))
    else:
        selection = [int(index) for index in indices][start:]
        bad = [index for index in selection if not 0 <= index < n_items]
        if bad:
            raise ValueError(f"indices out of range for a source of {n_items} images: {bad[:5]}")
    if not selection:
        return
    loader = DataLoader(
        _DecodeDataset(source, prep),
        batch_size=batch_size,
        sampler=selection,  # a plain sequence: iterated in order, so chunks are fixed
        num_workers=workers,
        collate_fn=_Collate(source, prep.crop),
        pin_memory=pin_memory and torch.cuda.is_available(),
        drop_last=False,
    )
    yield from loader
