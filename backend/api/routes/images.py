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
    check_upload_rate,
    current_atlas,
    id_path,
    not_found,
)
from backend.api.responses import JPEG_RESPONSE
from backend.schemas import DatasetImageUpload, ErrorBody
from backend.services.atlases import IMAGE_ID_PATTERN, parse_image_id
from backend.services.container import Services
from backend.services.dataset_images import model_crop, original_file
from backend.services.dataset_uploads import upload_dataset_image as store_dataset_image
from qkatlas.atlas import Atlas, AtlasReplaced

router = APIRouter(prefix="/images", tags=["images"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)


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


@router.get("/{image_id}", response_class=Response, responses=JPEG_RESPONSE)
async def get_image(request: Request, image: ImageDep, services: ServicesDep, _cache: ImageCache) -> Response:
    """The image as the model saw it: the atlas's thumbnail, or, for an image the atlas records without one, the
    crop made from its original file with the atlas's preprocessing (the same JPEG encoding)."""
    data, atlas = await _thumbnail(image, services)
    if atlas is not image.atlas:
        replace_policy(request, atlas_policy(request, [atlas], pinned=image.revision is not None))
    if data is None:
        data = await _crop_from_original(atlas, image, services)
    return Response(data, media_type="image/jpeg")


async def _crop_from_original(atlas: Atlas, image: ImageRef, services: Services) -> bytes:
    record = atlas.image_meta(image.index)
    if record is None:
        raise not_found(f"no image {image.image_id!r}")
    original = await asyncio.to_thread(original_file, atlas, record.source, services.settings.max_upload_bytes)
    if isinstance(original, str):
        raise not_found(f"no picture of image {image.image_id!r}: the atlas keeps no crop of it, and {original}")
    return await model_crop(services.renders, services.settings.overlay_ttl_s, atlas, image.index, original)


@router.post(
    "/{image_id}/upload",
    response_model=DatasetImageUpload,
    status_code=201,
    responses={429: {"model": ErrorBody, "description": "Too many uploads from this address"}},
)
async def upload_dataset_image(request: Request, image: ImageDep, services: ServicesDep) -> DatasetImageUpload:
    """Turn an image of an atlas into an upload (the same store and answer as `POST /api/uploads`), so that
    every upload view (the attention explorer, other models' rankings) can analyse it. The original file is
    used when the service can still read it where the atlas was built, else the stored thumbnail (the crop the
    model saw)."""
    meta = image.atlas.image_meta(image.index)
    if meta is None:
        raise not_found(
            f"no image {image.image_id!r}: the atlas keeps no record of it (an atlas built before format 4 "
            "records only its modes' top images)"
        )
    await check_upload_rate(request, services)

    async def thumbnail() -> bytes | None:
        data, _ = await _thumbnail(image, services)
        return data

    stored = await store_dataset_image(
        services.uploads,
        image.atlas,
        image.image_id,
        meta,
        thumbnail=thumbnail,
        max_bytes=services.settings.max_upload_bytes,
    )
    if stored is None:
        raise not_found(f"no image {image.image_id!r}")
    return stored
