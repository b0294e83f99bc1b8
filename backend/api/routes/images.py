"""Dataset images (the atlas's thumbnails, as the model saw them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from backend.api.caching import CachedRoute, CachePolicy, atlas_policy, replace_policy, use_policy
from backend.api.deps import PinnedRevision, ServicesDep, atlas_after_replacement, current_atlas, not_found
from backend.api.responses import JPEG_RESPONSE
from backend.schemas import ErrorBody
from backend.services.atlases import IMAGE_ID_PATTERN, parse_image_id
from qkatlas.atlas import Atlas, AtlasReplaced

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
        Path(pattern=IMAGE_ID_PATTERN, description="`<atlas slug>~<dataset index>`, from a mode's top images."),
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


@router.get("/images/{image_id}", response_class=Response, responses=JPEG_RESPONSE)
async def get_image(request: Request, image: ImageDep, services: ServicesDep, _cache: ImageCache) -> Response:
    try:
        data = image.atlas.thumbnail(image.index)
    except AtlasReplaced:
        atlas = await atlas_after_replacement(services, image.atlas.slug, image.revision)
        replace_policy(request, atlas_policy(request, [atlas], pinned=image.revision is not None))
        data = atlas.thumbnail(image.index)
    if data is None:
        raise not_found(f"no image {image.image_id!r}")
    return Response(data, media_type="image/jpeg")
