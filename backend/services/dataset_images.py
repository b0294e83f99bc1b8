"""A dataset image of an atlas, read again: its original file where the atlas was built when that can still be
read, else the atlas's stored crop (its thumbnail). What the service computes from it on demand goes through
here: its maps under any mode (the upload analysis, ``backend.services.analysis``, keyed by the atlas revision
and the image's index), and the crop the model saw when the atlas keeps no thumbnail of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import torch

from backend.core.cache import Cache
from backend.schemas import Basis, DatasetImageMaps, Sign
from backend.services.analysis.codec import HeadAnalysis
from backend.services.analysis.runner import AnalysisSubject
from backend.services.atlases import image_id
from backend.services.overlays import mode_maps
from backend.services.upload_results import analysed_mode_maps
from qkatlas.atlas import Atlas
from qkatlas.atlas.contract import ImageRecord
from qkatlas.atlas.evidence import fires
from qkatlas.atlas.statistics import SignedMode
from qkatlas.conventions import SIGNS
from qkatlas.images import decode_image, item_path, to_model_input
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.render import encode_thumbnail

#: What the response says when the maps were computed from the stored crop.
FROM_CROP = (
    "computed from the atlas's stored crop (a JPEG of the image as the model saw it), not the original file: "
    "the maps can differ slightly from the atlas's"
)


class DatasetImageUnavailable(Exception):
    """Neither the original file nor a stored crop of the image can be read; the message says why."""


def original_file(atlas: Atlas, source: str, max_bytes: int) -> bytes | str:
    """The image's original file as the dataset record and image record locate it, or why it cannot be used
    (in words without the server's paths)."""
    dataset = atlas.manifest.dataset
    path = item_path(dataset.source, dataset.layout, source)
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError:
        return f"the original file of {source!r} can no longer be read where the atlas was built"
    if len(data) > max_bytes:
        return f"the original file of {source!r} is larger than the upload limit ({max_bytes:,} bytes)"
    return data


@dataclass(frozen=True)
class DatasetImageSource:
    """The bytes an image's maps are computed from, and which they are."""

    atlas: Atlas
    index: int
    record: ImageRecord
    data: bytes
    from_original_file: bool
    #: Why the stored crop was used; None when the original file was.
    note: str | None

    @property
    def kind(self) -> str:
        return "original" if self.from_original_file else "crop"

    def subject(self, ttl_s: int) -> AnalysisSubject:
        """The image as what an analysis runs on: cached per atlas revision (in the key), image and source."""
        data = self.data

        async def read() -> bytes:
            return data

        crop = not self.from_original_file
        return AnalysisSubject(
            f"image-{self.index}-{self.kind}", lambda: ttl_s, read, stored_crop_input if crop else original_input
        )


def original_input(data: bytes, preprocessing: Preprocessing) -> torch.Tensor:
    """The original file as the precompute job made it the model's input (its decoding and pixel limit)."""
    return to_model_input(decode_image(data), preprocessing)


def stored_crop_input(data: bytes, preprocessing: Preprocessing) -> torch.Tensor:
    """The stored crop *is* the model's input (a JPEG of it): preprocessing it again would zoom into it."""
    image = decode_image(data)
    if image.size != (preprocessing.crop, preprocessing.crop):  # not a crop this atlas wrote
        return to_model_input(image, preprocessing)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


async def image_source(
    atlas: Atlas, index: int, record: ImageRecord, *, thumbnail: Callable[[], Awaitable[bytes | None]], max_bytes: int
) -> DatasetImageSource:
    """The original file when it can still be read, else the stored crop (``thumbnail()``); raises
    ``DatasetImageUnavailable`` when there is neither."""
    original = await asyncio.to_thread(original_file, atlas, record.source, max_bytes)
    if isinstance(original, bytes):
        return DatasetImageSource(atlas, index, record, original, True, None)
    crop = await thumbnail()
    if crop is None:
        raise DatasetImageUnavailable(f"{original}, and the atlas keeps no crop of it")
    return DatasetImageSource(atlas, index, record, crop, False, f"{FROM_CROP} ({original})")


def _crop_jpeg(data: bytes, atlas: Atlas) -> bytes:
    pixels = original_input(data, atlas.manifest.preprocessing)
    return encode_thumbnail(pixels.permute(1, 2, 0).numpy())


async def model_crop(renders: Cache, ttl_s: int, atlas: Atlas, index: int, original: bytes) -> bytes:
    """The image as the model saw it, encoded as the atlas's thumbnails are (JPEG), made from its ``original``
    file with the atlas's preprocessing: for an image the atlas records without a thumbnail. Cached per
    revision."""
    key = f"qk:crop:{atlas.slug}:{atlas.revision}:{index}"
    data = await renders.get(key)
    if data is None:
        data = await asyncio.to_thread(_crop_jpeg, original, atlas)
        await renders.set(key, data, ttl_s)
    return data


async def source_photo(renders: Cache, ttl_s: int, source: DatasetImageSource, thumbnail: bytes | None) -> bytes:
    """The crop the model saw, to draw maps over: the stored one, else made from the original file."""
    if thumbnail is not None:
        return thumbnail
    if not source.from_original_file:
        return source.data  # the stored crop itself
    return await model_crop(renders, ttl_s, source.atlas, source.index, source.data)


def image_maps(
    source: DatasetImageSource, analysis: HeadAnalysis, layer: int, head: int, mode: int, sign: Sign, basis: Basis
) -> DatasetImageMaps:
    atlas = source.atlas
    query, key, scale = analysed_mode_maps(analysis, atlas, basis, SignedMode(layer, head, mode, sign))
    return DatasetImageMaps(
        model=atlas.slug,
        revision=atlas.revision,
        image_id=image_id(atlas, source.index),
        dataset_index=source.index,
        label=source.record.label,
        layer=layer,
        head=head,
        mode=mode,
        sign=sign,
        basis=basis,
        score=float(analysis.scores[basis][mode, SIGNS.index(sign)]),
        fires=fires(query, key),
        maps=mode_maps(query, key, atlas.image_size, scale),
        from_original_file=source.from_original_file,
        note=source.note,
    )
