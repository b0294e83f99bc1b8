"""Browsing an atlas's models, layers and heads. Never runs a model: everything comes from the atlas."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any

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
    Basis,
    DatasetInfo,
    ErrorBody,
    HeadDetail,
    ImageRef,
    LayerSummary,
    ModeIndexPage,
    ModelDetail,
    ModelSummary,
    ModeSortKey,
    ModeSummary,
    O3Result,
    PreprocessingInfo,
    Sign,
    SignImages,
    SignScores,
    SortOrder,
    Spectra,
    StatisticsAvailability,
)
from backend.services.atlases import image_id, thumbnail_url
from backend.services.container import Services
from backend.services.mode_index import ModeFilters
from qkatlas.atlas import Atlas
from qkatlas.atlas.statistics import NOT_COMPUTED
from qkatlas.images.preprocessing import Preprocessing

router = APIRouter(tags=["models"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: a missing score (no image in the top-K) is null."""
    return float(value) if math.isfinite(value) else None


def _summary_fields(atlas: Atlas, services: Services) -> dict[str, Any]:
    model, dataset = atlas.manifest.model, atlas.manifest.dataset
    return {
        "slug": atlas.slug,
        "revision": atlas.revision,
        "model_slug": atlas.model_slug,
        "model_id": atlas.model_id,
        "family": model.family,
        "n_layers": atlas.n_layers,
        "n_heads": atlas.n_heads,
        "n_modes": atlas.n_modes,
        "d_model": model.d_model,
        "d_head": model.d_head,
        "patch_size": model.patch_size,
        "image_size": atlas.image_size,
        "grid": atlas.grid,
        "prefix_kinds": list(model.prefix_kinds),
        "top_k": atlas.top_k,
        "bases": list(atlas.bases),
        "dataset": DatasetInfo(name=dataset.name, n_images=dataset.n_images, n_skipped=dataset.n_skipped),
        "random_init": model.random_init,
        "planted": atlas.manifest.model_source.planted,
        "planted_modes": list(model.planted_modes),
        "preprocessing": _preprocessing(atlas.manifest.preprocessing),
        "statistics": StatisticsAvailability(
            computed=atlas.statistics is not None,
            n_classes=len(atlas.statistics.classes) if atlas.statistics is not None else 0,
            note=None if atlas.statistics is not None else NOT_COMPUTED,
        ),
        "has_o3": services.o3.get(atlas) is not None,
    }


def _preprocessing(prep: Preprocessing) -> PreprocessingInfo:
    return PreprocessingInfo(
        resize=prep.resize,
        crop=prep.crop,
        resize_mode=prep.resize_mode,
        interpolation=prep.interpolation,
        mean=list(prep.mean),
        std=list(prep.std),
        description=prep.describe(),
    )


def _best_image(atlas: Atlas, basis: Basis, layer: int, head: int, mode: int, sign: Sign) -> ImageRef | None:
    winners = atlas.top_images(basis, layer, head, mode, sign)
    if not winners:
        return None
    index = winners[0][0]
    return ImageRef(image_id=image_id(atlas, index), thumbnail_url=thumbnail_url(atlas, index))


@router.get("/models", response_model=list[ModelSummary])
async def list_models(
    atlases: ServedAtlases, services: ServicesDep, _cache: ServedAtlasesO3Cache
) -> list[ModelSummary]:
    return [ModelSummary(**_summary_fields(atlas, services)) for atlas in atlases]


@router.get("/models/{model}", response_model=ModelDetail)
async def get_model(atlas: AtlasDep, services: ServicesDep, _cache: AtlasO3Cache) -> ModelDetail:
    summary = atlas.summary
    layers = [
        LayerSummary(
            layer=layer,
            normalized_depth=summary.normalized_depth[layer],
            weighted_cos=summary.layer_weighted_cos[layer],
            unweighted_cos=summary.layer_unweighted_cos[layer],
            weighted_cos_scaled=summary.layer_weighted_cos_scaled[layer],
        )
        for layer in range(atlas.n_layers)
    ]
    return ModelDetail(
        **_summary_fields(atlas, services),
        layers=layers,
        head_weighted_cos=summary.head_weighted_cos,
        baseline_95=summary.baseline_95,
        spectra=Spectra(
            sigma=atlas.sigma_all.tolist(),
            cos=atlas.cos_all.tolist(),
            degenerate=atlas.degenerate_all.tolist(),
            active=atlas.active_all.tolist(),
        ),
    )


@router.get("/models/{model}/o3", response_model=O3Result)
async def get_o3(atlas: AtlasDep, services: ServicesDep, _cache: AtlasO3Cache) -> O3Result:
    """Odd-One-Out attention preference (paper Fig. 2), written by `python -m precompute o3`."""
    result = services.o3.get(atlas)
    if result is None:
        raise not_found(f"model {atlas.slug!r} has no odd-one-out results (run `python -m precompute o3 --model ...`)")
    return result


@router.get("/models/{model}/layers/{layer}/heads/{head}", response_model=HeadDetail)
async def get_head(ref: HeadDep, basis: BasisDep, _cache: AtlasCache) -> HeadDetail:
    atlas, layer, head = ref.atlas, ref.layer, ref.head
    sigma, cos, degenerate = atlas.sigma(layer, head), atlas.cos(layer, head), atlas.degenerate(layer, head)
    active = atlas.active(layer, head)
    best = atlas.best_scores(basis, layer, head)
    return HeadDetail(
        model=atlas.slug,
        layer=layer,
        head=head,
        basis=basis,
        weighted_cos=atlas.summary.head_weighted_cos[layer][head],
        active=bool(active.any()),
        modes=[
            ModeSummary(
                mode=mode,
                sigma=float(sigma[mode]),
                cos=float(cos[mode]),
                degenerate=bool(degenerate[mode]),
                active=bool(active[mode]),
                best_score=SignScores(pos=finite_or_none(best[mode, 0]), neg=finite_or_none(best[mode, 1])),
                best_image=SignImages(
                    pos=_best_image(atlas, basis, layer, head, mode, Sign.pos),
                    neg=_best_image(atlas, basis, layer, head, mode, Sign.neg),
                ),
            )
            for mode in range(atlas.n_modes)
        ],
    )


@router.get("/models/{model}/modes", response_model=ModeIndexPage)
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
) -> ModeIndexPage:
    """Every signed mode of the model in one table, sorted and filtered here and sent a page at a time.
    Nulls sort last in either order; ties keep the position order (layer, head, mode, sign). For an
    atlas without statistics (`statistics_missing` set) the statistics filters (`never_fires`,
    `top_class`, `min_selectivity`) do not apply."""
    filters = ModeFilters(
        layer=layer,
        head=head,
        sign=sign,
        include_inactive=include_inactive,
        degenerate=degenerate,
        never_fires=never_fires,
        top_class=top_class,
        min_selectivity=min_selectivity,
    )
    page = await asyncio.to_thread(
        services.mode_index.page, atlas, basis, sort=sort, order=order, filters=filters, offset=offset, limit=limit
    )
    return ModeIndexPage(
        model=atlas.slug,
        basis=basis,
        sort=sort,
        order=order,
        total=page.total,
        n_modes=page.n_modes,
        offset=offset,
        rows=page.rows,
        statistics_missing=page.statistics_missing,
    )
