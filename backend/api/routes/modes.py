"""A mode of a head with its top images, and the overlays and raw maps of those images."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from backend.api import deps
from backend.api.caching import (
    AtlasCache,
    CachedRoute,
    ServedAtlases,
    ServedAtlasesCache,
    atlas_policy,
    replace_policy,
)
from backend.api.deps import (
    BasisDep,
    ModeDep,
    ModeRef,
    OverlayDep,
    RevisionQuery,
    ServicesDep,
    SignQuery,
    not_found,
)
from backend.api.responses import PNG_RESPONSE, png
from backend.core.text import count
from backend.schemas import Basis, ErrorBody, ModeDetail, ModeMaps, ModeSamples, Sign, SimilarModes
from backend.services.container import Services
from backend.services.mode_views import (
    listed_top_images,
    mode_detail,
    mode_samples,
    top_image_maps,
    top_image_overlay,
)
from backend.services.overlays import OverlayOptions
from backend.services.similar_modes import DEFAULT_SIMILAR, MAX_SIMILAR
from qkatlas.atlas import AtlasReplaced
from qkatlas.atlas.statistics import SignedMode

router = APIRouter(
    prefix="/models/{model}/layers/{layer}/heads/{head}/modes/{mode}",
    tags=["modes"],
    responses={404: {"model": ErrorBody}},
    route_class=CachedRoute,
)

RankPath = Annotated[int, Path(ge=0, le=100_000, description="0 = the best image of the mode.")]


@router.get("", response_model=ModeDetail)
async def get_mode(ref: ModeDep, basis: BasisDep, _cache: AtlasCache, sign: SignQuery = Sign.pos) -> ModeDetail:
    return mode_detail(ref.atlas, ref.layer, ref.head, ref.mode, basis, sign)


@router.get("/samples", response_model=ModeSamples)
async def get_mode_samples(
    ref: ModeDep, basis: BasisDep, _cache: AtlasCache, sign: SignQuery = Sign.pos
) -> ModeSamples:
    """Images across the signed mode's whole score distribution: its score range cut into bands, each with
    its count of dataset images and a few images sampled in it."""
    return mode_samples(ref.atlas, ref.layer, ref.head, ref.mode, basis, sign)


def _winner(ref: ModeRef, basis: Basis, sign: Sign, rank: int) -> int:
    """The dataset index of the ``rank``-th image the signed mode lists (404 past them)."""
    winners = listed_top_images(ref.atlas, basis, SignedMode(ref.layer, ref.head, ref.mode, sign))
    if rank >= len(winners):
        raise not_found(f"no rank {rank}: this mode has {count(len(winners), 'top image')}")
    return winners[rank].dataset_index


@router.get("/top/{rank}/overlay.png", response_class=Response, responses=PNG_RESPONSE)
async def get_mode_overlay(
    request: Request,
    ref: ModeDep,
    rank: RankPath,
    basis: BasisDep,
    options: OverlayDep,
    services: ServicesDep,
    _cache: AtlasCache,
    sign: SignQuery = Sign.pos,
    v: RevisionQuery = None,
) -> Response:
    try:
        data = await _overlay(ref, rank, basis, sign, options, services)
    except AtlasReplaced:
        atlas = await deps.atlas_after_replacement(services, ref.atlas.slug, v)
        replace_policy(request, atlas_policy(request, [atlas], pinned=v is not None))
        fresh = await deps.get_mode(await deps.get_head(atlas, ref.layer, ref.head), ref.mode)
        data = await _overlay(fresh, rank, await deps.get_basis(atlas, basis), sign, options, services)
    return png(data)


async def _overlay(
    ref: ModeRef, rank: int, basis: Basis, sign: Sign, options: OverlayOptions, services: Services
) -> bytes:
    index = _winner(ref, basis, sign, rank)
    mode = SignedMode(ref.layer, ref.head, ref.mode, sign)
    ttl_s = services.settings.overlay_ttl_s
    return await top_image_overlay(services.renders, ttl_s, ref.atlas, mode, basis, rank, index, options)


@router.get("/top/{rank}/maps", response_model=ModeMaps)
async def get_mode_maps(
    ref: ModeDep, rank: RankPath, basis: BasisDep, _cache: AtlasCache, sign: SignQuery = Sign.pos
) -> ModeMaps:
    _winner(ref, basis, sign, rank)
    return top_image_maps(ref.atlas, basis, SignedMode(ref.layer, ref.head, ref.mode, sign), rank)


@router.get("/similar", response_model=SimilarModes)
async def get_similar_modes(
    ref: ModeDep,
    basis: BasisDep,
    services: ServicesDep,
    atlases: ServedAtlases,
    _cache: ServedAtlasesCache,
    sign: SignQuery = Sign.pos,
    limit: Annotated[int, Query(ge=1, le=MAX_SIMILAR, description="Signed modes listed per model.")] = DEFAULT_SIMILAR,
) -> SimilarModes:
    """The signed modes most similar to this one in every served model on the same dataset, its own included:
    the correlation of their mean scores per class (docs/method.md#similar-modes), with how many top images
    they share. 200 with `unavailable` set when the atlas has no class statistics or the mode has no
    correlation (inactive, constant class means)."""
    mode = SignedMode(ref.layer, ref.head, ref.mode, sign)
    return await asyncio.to_thread(services.similar_modes.similar, ref.atlas, atlases, mode, basis, limit)
