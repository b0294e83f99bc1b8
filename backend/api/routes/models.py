"""Browsing an atlas's models, layers and heads. Never runs a model: everything comes from the atlas."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.caching import (
    AtlasCache,
    AtlasO3Cache,
    CachedRoute,
    ServedAtlases,
    ServedAtlasesO3Cache,
)
from backend.api.deps import AtlasDep, BasisDep, HeadDep, ServicesDep, not_found
from backend.schemas import (
    ErrorBody,
    HeadDetail,
    ModeIndexPage,
    ModelDetail,
    ModelSummary,
    ModeSortKey,
    O3Result,
    Sign,
    SortOrder,
)
from backend.services import model_views
from backend.services.mode_index import ModeFilters
from qkatlas.models.source import revision_option

router = APIRouter(prefix="/models", tags=["models"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)


@router.get("", response_model=list[ModelSummary])
async def list_models(
    atlases: ServedAtlases, services: ServicesDep, _cache: ServedAtlasesO3Cache
) -> list[ModelSummary]:
    return [model_views.model_summary(atlas, has_o3=services.o3.get(atlas) is not None) for atlas in atlases]


@router.get("/{model}", response_model=ModelDetail)
async def get_model(atlas: AtlasDep, services: ServicesDep, _cache: AtlasO3Cache) -> ModelDetail:
    return model_views.model_detail(atlas, has_o3=services.o3.get(atlas) is not None)


@router.get("/{model}/o3", response_model=O3Result)
async def get_o3(atlas: AtlasDep, services: ServicesDep, _cache: AtlasO3Cache) -> O3Result:
    """Odd-One-Out attention preference (paper Fig. 2), written by `python -m precompute o3`."""
    result = services.o3.get(atlas)
    if result is None:
        source = atlas.manifest.model_source
        command = f"python -m precompute o3 --model {source.id} --o3 <O3 folder>{revision_option(source.revision)}"
        command += f" --random-init --seed {source.seed}" if source.random_init else ""
        raise not_found(f"model {atlas.slug!r} has no odd-one-out results (run `{command}`)")
    return result


@router.get("/{model}/layers/{layer}/heads/{head}", response_model=HeadDetail)
async def get_head(ref: HeadDep, basis: BasisDep, _cache: AtlasCache) -> HeadDetail:
    return model_views.head_detail(ref.atlas, ref.layer, ref.head, basis)


@router.get("/{model}/modes", response_model=ModeIndexPage)
async def get_mode_index(
    atlas: AtlasDep,
    basis: BasisDep,
    services: ServicesDep,
    _cache: AtlasCache,
    sort: ModeSortKey = ModeSortKey.position,
    order: SortOrder = SortOrder.asc,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    layer: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    head: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    sign: Sign | None = None,
    include_inactive: Annotated[bool, Query(description="Also list inactive modes (σ = 0).")] = False,
    degenerate: Annotated[bool | None, Query(description="Only degenerate modes (true) or none (false).")] = None,
    never_fires: Annotated[
        bool | None, Query(description="Only modes that never fire (true) or only those that do (false).")
    ] = None,
    top_class: Annotated[
        str | None, Query(max_length=200, description="Part of the label of the mode's most selective class.")
    ] = None,
    min_selectivity: Annotated[float | None, Query(ge=-1e6, le=1e6)] = None,
    min_effect: Annotated[
        float | None, Query(ge=0, le=1, description="Only modes that move at least this much attention on average.")
    ] = None,
) -> ModeIndexPage:
    """Every signed mode of the model in one table, sorted and filtered here and sent a page at a time.
    Nulls sort last in either order; ties keep the position order (layer, head, mode, sign). For an
    atlas without statistics (`statistics_missing` set) the statistics filters (`never_fires`,
    `top_class`, `min_selectivity`) do not apply, nor `min_effect` for one that did not measure the attention
    moved by each mode (`effects_missing` set)."""
    # A filter naming a layer or head the model does not have names nothing (not an empty table).
    if layer is not None and layer >= atlas.n_layers:
        raise not_found(f"no layer {layer}: the model has {atlas.n_layers} layers")
    if head is not None and head >= atlas.n_heads:
        raise not_found(f"no head {head}: the model has {atlas.n_heads} heads per layer")
    filters = ModeFilters(
        layer=layer,
        head=head,
        sign=sign,
        include_inactive=include_inactive,
        degenerate=degenerate,
        never_fires=never_fires,
        top_class=top_class,
        min_selectivity=min_selectivity,
        min_effect=min_effect,
    )
    page = await asyncio.to_thread(
        services.mode_index.page, atlas, basis, sort=sort, order=order, filters=filters, offset=offset, limit=limit
    )
    return model_views.mode_index_page(atlas, basis, page, sort=sort, order=order, offset=offset)
