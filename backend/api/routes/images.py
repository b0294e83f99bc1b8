"""Dataset images (the atlas's thumbnails, as the model saw them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from backend.api.deps import ServicesDep, not_found
from backend.api.responses import ATLAS_CACHE_CONTROL, JPEG_RESPONSE
from backend.schemas import ErrorBody
from backend.services.atlases import IMAGE_ID_PATTERN, parse_image_id

router = APIRouter(tags=["images"], responses={404: {"model": ErrorBody}})


@router.get("/images/{image_id}", response_class=Response, responses=JPEG_RESPONSE)
async def get_image(
    image_id: Annotated[
        str,
        Path(pattern=IMAGE_ID_PATTERN, description="`<atlas slug>~<dataset index>`, from a mode's top images."),
    ],
    services: ServicesDep,
) -> Response:
    slug, index = parse_image_id(image_id)
    atlas = services.atlases.get(slug)
    path = atlas.thumbnail_path(index) if atlas is not None else None
    if path is None:
        raise not_found(f"no image {image_id!r}")
    return Response(path.read_bytes(), media_type="image/jpeg", headers={"Cache-Control": ATLAS_CACHE_CONTROL})
