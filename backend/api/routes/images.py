"""Dataset images: the atlas's thumbnails (as the model saw them), and a top image turned into an upload."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from backend.api.caching import CachedRoute, CachePolicy, atlas_policy, replace_policy, use_policy
from backend.api.deps import (
    PinnedRevision,
    ServicesDep,
    atlas_after_replacement,
    current_atlas,
    id_path,
    not_found,
)
from backend.api.responses import JPEG_RESPONSE
from backend.api.routes.uploads import check_upload_rate, upload_response
from backend.schemas import DatasetImageUpload, ErrorBody
from backend.services.atlases import IMAGE_ID_PATTERN, parse_image_id
from backend.services.container import Services
from backend.services.uploads import UploadRejected
from qkatlas.atlas import Atlas, AtlasReplaced
from qkatlas.images import item_path

router = APIRouter(tags=["images"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)


@dataclass(frozen=True)
class ImageRef:
    image_id: str
    atlas: Atlas
    index: int
    revision: str | None  # ``?v=``


async def get_image_ref(
    image_id: Annotated[
        str,
        *id_path(
            IMAGE_ID_PATTERN,
            what="an image id",
            rule="image ids are `<atlas slug>~<dataset index>`, e.g. `planted__shapes~12`, as a mode's top images give "
            "them",
            description="`<atlas slug>~<dataset index>`, from a mode's top images.",
        ),
    ],
    services: ServicesDep,
    v: PinnedRevision,
) -> ImageRef:
    slug, index = parse_image_id(image_id)
    return ImageRef(image_id, current_atlas(services, slug, v), index, v)


ImageDep = Annotated[ImageRef, Depends(get_image_ref)]


async def image_cache(request: Request, image: ImageDep) -> CachePolicy:
    return use_policy(request, atlas_policy(request, [image.atlas], pinned=image.revision is not None))


ImageCache = Annotated[CachePolicy, Depends(image_cache)]


async def _thumbnail(image: ImageRef, services: Services) -> tuple[bytes | None, Atlas]:
    """The image's thumbnail, and the atlas it came from: the one now served under the slug when the atlas
    was rebuilt while the request ran."""
    try:
        return image.atlas.thumbnail(image.index), image.atlas
    except AtlasReplaced:
        atlas = await atlas_after_replacement(services, image.atlas.slug, image.revision)
        return atlas.thumbnail(image.index), atlas


@router.get("/images/{image_id}", response_class=Response, responses=JPEG_RESPONSE)
async def get_image(request: Request, image: ImageDep, services: ServicesDep, _cache: ImageCache) -> Response:
    data, atlas = await _thumbnail(image, services)
    if atlas is not image.atlas:
        replace_policy(request, atlas_policy(request, [atlas], pinned=image.revision is not None))
    if data is None:
        raise not_found(f"no image {image.image_id!r}")
    return Response(data, media_type="image/jpeg")


def _original_file(atlas: Atlas, source: str, max_bytes: int) -> bytes | str:
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


@router.post(
    "/images/{image_id}/upload",
    response_model=DatasetImageUpload,
    status_code=201,
    responses={429: {"model": ErrorBody, "description": "Too many uploads from this address"}},
)
async def upload_dataset_image(request: Request, image: ImageDep, services: ServicesDep) -> DatasetImageUpload:
    """Turn a top image of an atlas into an upload (the same store and answer as `POST /api/uploads`), so that
    every upload view (the attention explorer, other models' rankings) can analyse it. The original file is
    used when the service can still read it where the atlas was built, else the stored thumbnail (the crop the
    model saw)."""
    meta = image.atlas.image_meta(image.index)
    if meta is None:
        raise not_found(f"no image {image.image_id!r}: the atlas keeps only its modes' top images")
    await check_upload_rate(request, services)
    original = await asyncio.to_thread(_original_file, image.atlas, meta.source, services.settings.max_upload_bytes)
    info = None
    note = original if isinstance(original, str) else None
    if isinstance(original, bytes):
        try:
            info = await services.uploads.add(original)
        except UploadRejected as rejected:
            note = f"the original file of {meta.source!r} cannot be used: {rejected.reason}"
    from_original_file = info is not None
    if info is None:
        thumbnail, _ = await _thumbnail(image, services)
        if thumbnail is None:
            raise not_found(f"no image {image.image_id!r}")
        info = await services.uploads.add(thumbnail)
    return DatasetImageUpload(
        upload=upload_response(info),
        image_id=image.image_id,
        label=meta.label,
        source=meta.source,
        from_original_file=from_original_file,
        note=note,
    )
