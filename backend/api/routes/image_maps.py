"""Any dataset image of an atlas under any of its modes: the maps computed on demand with the atlas's model, from
the image's original file when it can still be read, else from the atlas's stored crop (and the answer says so).
They come from the upload analysis (``backend.services.analysis``), cached per atlas revision and image."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from backend.api import deps
from backend.api.caching import CachedRoute, CachePolicy, atlas_policy, use_policy
from backend.api.deps import (
    AblationQueryDep,
    AtlasDep,
    OverlayDep,
    PinnedRevision,
    ServicesDep,
    SignQuery,
    id_path,
    not_found,
)
from backend.api.responses import ABLATION_RESPONSES, MODEL_UNAVAILABLE, PNG_RESPONSE, png
from backend.schemas import Basis, DatasetImageMaps, ErrorBody, ModeAblation, Sign
from backend.services.ablations import mode_ablation
from backend.services.atlases import IMAGE_ID_PATTERN, image_id, parse_image_id
from backend.services.dataset_images import (
    DatasetImageSource,
    DatasetImageUnavailable,
    image_maps,
    image_source,
    source_photo,
)
from backend.services.overlays import overlay_png
from backend.services.upload_results import analysed_mode_maps
from qkatlas.atlas import Atlas, AtlasReplaced
from qkatlas.atlas.statistics import SignedMode

router = APIRouter(
    prefix="/models/{model}/images/{image_id}",
    tags=["images"],
    responses={404: {"model": ErrorBody}, **MODEL_UNAVAILABLE},
    route_class=CachedRoute,
)

ImageIdPath = Annotated[
    str,
    *id_path(
        IMAGE_ID_PATTERN,
        what="an image id",
        rule="image ids are `<atlas slug>~<dataset index>`, e.g. `planted__shapes~12`",
        description="`<atlas slug>~<dataset index>` of an image of this atlas's dataset.",
    ),
]


def _thumbnail(atlas: Atlas, index: int) -> bytes | None:
    try:
        return atlas.thumbnail(index)
    except AtlasReplaced:
        raise not_found(f"model {atlas.slug!r} was rebuilt while this request ran: reload the page") from None


@dataclass(frozen=True)
class ModeQuery:
    layer: int
    head: int
    mode: int
    sign: Sign
    basis: Basis


async def get_mode_query(
    atlas: AtlasDep,
    layer: Annotated[int, Query(ge=0, le=10_000)],
    head: Annotated[int, Query(ge=0, le=10_000)],
    mode: Annotated[int, Query(ge=0, le=100_000)],
    sign: SignQuery = Sign.pos,
    basis: Annotated[
        Basis, Query(description="Which tokens are projected (docs/method.md#projection-bases).")
    ] = Basis.faithful,
) -> ModeQuery:
    """The signed mode asked for; 404 outside the atlas (the same answers as the mode routes')."""
    ref = await deps.get_mode(await deps.get_head(atlas, layer, head), mode)
    return ModeQuery(ref.layer, ref.head, ref.mode, sign, await deps.get_basis(atlas, basis))


ModeQueryDep = Annotated[ModeQuery, Depends(get_mode_query)]


async def get_image_source(atlas: AtlasDep, image_id: ImageIdPath, services: ServicesDep) -> DatasetImageSource:
    """The image's bytes: its original file, else the stored crop; 404 saying why when it has neither."""
    slug, index = parse_image_id(image_id)
    if slug != atlas.slug:
        raise not_found(f"image {image_id!r} belongs to atlas {slug!r}, not {atlas.slug!r}")
    record = atlas.image_meta(index)
    if record is None:
        raise not_found(f"no image {image_id!r}: the atlas keeps no record of dataset image {index}")

    async def thumbnail() -> bytes | None:
        return _thumbnail(atlas, index)

    try:
        return await image_source(
            atlas, index, record, thumbnail=thumbnail, max_bytes=services.settings.max_upload_bytes
        )
    except DatasetImageUnavailable as missing:
        raise not_found(f"no maps for image {image_id!r}: {missing}") from None


ImageSourceDep = Annotated[DatasetImageSource, Depends(get_image_source)]


async def image_maps_cache(request: Request, source: ImageSourceDep, v: PinnedRevision) -> CachePolicy:
    """Like every atlas route (the revision and the address), and which bytes the maps come from: an original
    file that can no longer be read changes the answer."""
    return use_policy(
        request, atlas_policy(request, [source.atlas], pinned=v is not None, extra=[f"source {source.kind}"])
    )


ImageMapsCache = Annotated[CachePolicy, Depends(image_maps_cache)]


@router.get("/maps", response_model=DatasetImageMaps)
async def get_image_maps(
    source: ImageSourceDep, query: ModeQueryDep, services: ServicesDep, _cache: ImageMapsCache
) -> DatasetImageMaps:
    """The image's query and key maps and score under one signed mode, computed with the atlas's model (on its
    device) on the first request for the image, for every mode at once, and cached for this atlas revision."""
    subject = source.subject(services.settings.overlay_ttl_s)
    analysis = await services.analysis.subject_head(subject, source.atlas, query.layer, query.head)
    return image_maps(source, analysis, query.layer, query.head, query.mode, query.sign, query.basis)


@router.get("/overlay.png", response_class=Response, responses=PNG_RESPONSE)
async def get_image_overlay(
    source: ImageSourceDep,
    query: ModeQueryDep,
    options: OverlayDep,
    services: ServicesDep,
    _cache: ImageMapsCache,
) -> Response:
    """The maps of `…/maps` drawn over the crop the model saw (the same options as the other overlays)."""
    atlas, ttl_s = source.atlas, services.settings.overlay_ttl_s
    analysis = await services.analysis.subject_head(source.subject(ttl_s), atlas, query.layer, query.head)
    signed = SignedMode(query.layer, query.head, query.mode, query.sign)
    query_map, key_map, scale = analysed_mode_maps(analysis, atlas, query.basis, signed)
    photo = None
    if options.blend > 0:
        photo = await source_photo(services.renders, ttl_s, source, _thumbnail(atlas, source.index))
    data = await asyncio.to_thread(
        overlay_png, query_map, key_map, size=atlas.image_size, options=options, scale=scale, photo=photo
    )
    return png(data)


@router.get("/layers/{layer}/heads/{head}/ablation", response_model=ModeAblation, responses=ABLATION_RESPONSES)
async def get_image_ablation(
    source: ImageSourceDep, query: AblationQueryDep, services: ServicesDep, _cache: ImageMapsCache
) -> ModeAblation:
    """The dataset image run as it is and with modes of this head removed (the same answer as an upload's
    `…/ablation`), cached for this atlas revision."""
    ref = query.ref
    subject = source.subject(services.settings.overlay_ttl_s)
    record = await services.analysis.ablation(subject, ref.atlas, ref.layer, ref.head, query.removed, query.query_patch)
    image = image_id(ref.atlas, source.index)
    return mode_ablation(
        ref.atlas, image, ref.layer, ref.head, query.removed, query.keep_top, query.query_patch, record, source.note
    )
