"""Link-preview images (the Open Graph image of each page: backend.services.page_meta): a mode, a head, a class
and the site, drawn by ``backend.services.previews``. Pinned addresses (``?v=``) are immutable, as overlays."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from backend.api.caching import AtlasCache, CachedRoute, CachePolicy, ServedAtlases, atlas_policy, use_policy
from backend.api.deps import BasisDep, HeadDep, ModeDep, ServicesDep, SignQuery, not_found
from backend.api.responses import PNG_RESPONSE, png
from backend.schemas import ErrorBody, Sign
from backend.services.page_meta import served_revision
from backend.services.previews import (
    cached_preview,
    class_label,
    class_preview,
    head_preview,
    mode_preview,
    preview_key,
    site_preview,
)
from qkatlas.atlas import AtlasReplaced
from qkatlas.atlas.statistics import SignedMode

router = APIRouter(tags=["previews"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)

ServedRevisionQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9a-f]{16}$",
        description="The revision of the served atlases this address was made for (as the page's tags name it). "
        "With it, the image is cacheable for good and the address stops working (404) once an atlas is rebuilt, "
        "added or removed.",
    ),
]


async def served_preview_cache(request: Request, atlases: ServedAtlases, v: ServedRevisionQuery = None) -> CachePolicy:
    """An image derived from every served atlas; ``?v=`` pins it to their revisions (immutable)."""
    if v is not None and v != served_revision(atlases):
        raise not_found("the served atlases have changed since this address was made: reload the page")
    return use_policy(request, atlas_policy(request, atlases, pinned=v is not None))


ServedPreviewCache = Annotated[CachePolicy, Depends(served_preview_cache)]


def _rebuilt() -> Exception:
    return not_found("the atlas was rebuilt while this image was drawn: reload the page")


@router.get(
    "/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/preview.png",
    response_class=Response,
    responses=PNG_RESPONSE,
)
async def get_mode_preview(
    ref: ModeDep, basis: BasisDep, services: ServicesDep, _cache: AtlasCache, sign: SignQuery = Sign.pos
) -> Response:
    """The mode page's link preview (1200 × 630): its name, model, σ, top class and its four best images with
    their maps."""
    mode = SignedMode(ref.layer, ref.head, ref.mode, sign)
    key = preview_key([ref.atlas], "mode", basis.value, ref.layer, ref.head, ref.mode, sign.value)
    try:
        data = await cached_preview(
            services.renders, services.settings.overlay_ttl_s, key, lambda: mode_preview(ref.atlas, mode, basis)
        )
    except AtlasReplaced:
        raise _rebuilt() from None
    return png(data)


@router.get("/models/{model}/layers/{layer}/heads/{head}/preview.png", response_class=Response, responses=PNG_RESPONSE)
async def get_head_preview(ref: HeadDep, services: ServicesDep, _cache: AtlasCache) -> Response:
    """The head page's link preview (1200 × 630): its spectrum and the best images of its mode M0."""
    key = preview_key([ref.atlas], "head", ref.layer, ref.head)
    try:
        data = await cached_preview(
            services.renders, services.settings.overlay_ttl_s, key, lambda: head_preview(ref.atlas, ref.layer, ref.head)
        )
    except AtlasReplaced:
        raise _rebuilt() from None
    return png(data)


@router.get("/classes/{label}/preview.png", response_class=Response, responses=PNG_RESPONSE)
async def get_class_preview(
    atlases: ServedAtlases,
    services: ServicesDep,
    _cache: ServedPreviewCache,
    label: Annotated[
        str, Path(min_length=1, max_length=200, description="A class label (case-insensitive; `_` = space).")
    ],
) -> Response:
    """The class page's link preview (1200 × 630): the class's most selective signed modes over the served
    models, each with its best image."""
    canonical = class_label(atlases, label)
    if canonical is None:
        raise not_found(f"no served model's dataset has a class {label!r}")
    key = preview_key(atlases, "class", canonical)
    try:
        data = await cached_preview(
            services.renders, services.settings.overlay_ttl_s, key, lambda: class_preview(atlases, canonical)
        )
    except AtlasReplaced:
        raise _rebuilt() from None
    return png(data)


@router.get("/preview.png", response_class=Response, responses=PNG_RESPONSE)
async def get_site_preview(atlases: ServedAtlases, services: ServicesDep, _cache: ServedPreviewCache) -> Response:
    """The link preview of every other page (1200 × 630): the site, with the models served."""
    key = preview_key(atlases, "site")
    data = await cached_preview(services.renders, services.settings.overlay_ttl_s, key, lambda: site_preview(atlases))
    return png(data)
