"""Dataset images (the atlas's thumbnails, as the model saw them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from backend.api.deps import RevisionQuery, ServicesDep, atlas_after_replacement, current_atlas, not_found
from backend.api.responses import JPEG_RESPONSE, atlas_cache_control
from backend.schemas import ErrorBody
from backend.services.atlases import IMAGE_ID_PATTERN, parse_image_id
from qkatlas.atlas import AtlasReplaced

router = APIRouter(tags=["images"], responses={404: {"model": ErrorBody}})


@router.get("/images/{image_id}", response_class=Response, responses=JPEG_RESPONSE)
async def get_image(
    image_id: Annotated[
        str,
        Path(pattern=IMAGE_ID_PATTERN, description="`<atlas slug>~<dataset index>`, from a mode's top images."),
    ],
    services: ServicesDep,
    v: RevisionQuery = None,
) -> Response:
    slug, index = parse_image_id(image_id)
    try:
        data = current_atlas(services, slug, v).thumbnail(index)
    except AtlasReplaced:
        data = (await atlas_after_replacement(services, slug, v)).thumbnail(index)
    if data is None:
        raise not_found(f"no image {image_id!r}")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": atlas_cache_control(pinned=v is not None)})
