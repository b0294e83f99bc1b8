"""A mode of a head with its top images, and the overlays and raw maps of those images."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request, Response

from backend.api import deps
from backend.api.caching import AtlasCache, CachedRoute, atlas_policy, replace_policy
from backend.api.deps import (
    BasisDep,
    ModeDep,
    ModeRef,
    OverlayDep,
    OverlayOptions,
    RevisionQuery,
    ServicesDep,
    SignQuery,
    not_found,
)
from backend.api.responses import PNG_RESPONSE, png
from backend.schemas import (
    Basis,
    ClassProfile,
    ClassScoreOut,
    ErrorBody,
    LabelCount,
    ModeDetail,
    ModeMaps,
    ScoreDistribution,
    Sign,
    TopImage,
)
from backend.services.atlases import image_id, thumbnail_url
from backend.services.container import Services
from backend.services.overlays import mode_maps, overlay_png
from qkatlas.atlas import AtlasReplaced
from qkatlas.atlas.statistics import NOT_COMPUTED, SignedMode

router = APIRouter(tags=["modes"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)

RankPath = Annotated[int, Path(ge=0, le=100_000, description="0 = the best image of the mode.")]


def _mode_path(ref: ModeRef) -> str:
    return f"/api/models/{ref.atlas.slug}/layers/{ref.layer}/heads/{ref.head}/modes/{ref.mode}"


def _source_name(source: str) -> str:
    """The image's name in its dataset, never an absolute path of the machine that built the atlas."""
    path = PurePosixPath(source.replace("\\", "/"))
    return path.name if path.is_absolute() or ".." in path.parts else str(path)


@router.get("/models/{model}/layers/{layer}/heads/{head}/modes/{mode}", response_model=ModeDetail)
async def get_mode(ref: ModeDep, basis: BasisDep, _cache: AtlasCache, sign: SignQuery = Sign.pos) -> ModeDetail:
    atlas, layer, head, mode = ref.atlas, ref.layer, ref.head, ref.mode
    sigma = atlas.sigma(layer, head)
    query = urlencode({"sign": sign.value, "basis": basis.value, "v": atlas.revision})
    top_images = []
    for rank, (index, score) in enumerate(atlas.top_images(basis, layer, head, mode, sign)):
        record = atlas.image_meta(index)
        image = image_id(atlas, index)
        top = f"{_mode_path(ref)}/top/{rank}"
        top_images.append(
            TopImage(
                rank=rank,
                image_id=image,
                dataset_index=index,
                score=score,
                label=record.label if record else None,
                source=_source_name(record.source if record else ""),
                thumbnail_url=thumbnail_url(atlas, index),
                overlay_url=f"{top}/overlay.png?{query}",
                maps_url=f"{top}/maps?{query}",
            )
        )
    total = float(sigma.sum())
    statistics = atlas.statistics
    distribution = class_profile = None
    if statistics is not None:
        axis, signed = atlas.basis_axis(basis), SignedMode(layer, head, mode, sign)
        found = statistics.distribution(axis, signed)
        distribution = ScoreDistribution(
            count=found.count,
            firing=found.firing,
            never_fires=found.firing == 0,
            mean=found.mean,
            std=found.std,
            minimum=found.minimum,
            maximum=found.maximum,
            edges=found.edges.tolist(),
            counts=found.counts.tolist(),
            binning=statistics.info.binning,
        )
        if statistics.has_classes:
            labels = Counter(image.label for image in top_images if image.label is not None)
            class_profile = ClassProfile(
                top_classes=[ClassScoreOut(**asdict(score)) for score in statistics.top_classes(axis, signed)],
                top_k_labels=[LabelCount(label=label, count=n) for label, n in labels.most_common()],
                selectivity_rule=statistics.info.selectivity,
            )
    return ModeDetail(
        model=atlas.slug,
        layer=layer,
        head=head,
        mode=mode,
        sign=sign,
        basis=basis,
        sigma=float(sigma[mode]),
        sigma_fraction=float(sigma[mode]) / total if total > 0 else 0.0,
        cos=float(atlas.cos(layer, head)[mode]),
        degenerate=bool(atlas.degenerate(layer, head)[mode]),
        active=bool(atlas.active(layer, head)[mode]),
        top_images=top_images,
        distribution=distribution,
        class_profile=class_profile,
        statistics_missing=None if statistics is not None else NOT_COMPUTED,
    )


def _winner(ref: ModeRef, basis: Basis, sign: Sign, rank: int) -> int:
    """The dataset index of the ``rank``-th image of the signed mode (404 past the filled slots)."""
    winners = ref.atlas.top_images(basis, ref.layer, ref.head, ref.mode, sign)
    if rank >= len(winners):
        raise not_found(f"no rank {rank}: this mode has {len(winners)} top images")
    return winners[rank][0]


@router.get(
    "/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/top/{rank}/overlay.png",
    response_class=Response,
    responses=PNG_RESPONSE,
)
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
    atlas = ref.atlas
    key = (
        f"qk:overlay:{atlas.slug}:{atlas.revision}:{basis.value}:{ref.layer}:{ref.head}:{ref.mode}:{sign.value}:"
        f"{rank}:{options.cache_key()}"
    )
    data = await services.renders.get(key)
    if data is None:
        query, key_map = atlas.maps(basis, ref.layer, ref.head, ref.mode, sign, rank)
        data = overlay_png(
            query,
            key_map,
            size=atlas.image_size,
            channel=options.channel,
            palette=options.palette,
            blend=options.blend,
            opacity=options.opacity,
            photo=atlas.thumbnail(index) if options.blend > 0 else None,
        )
        await services.renders.set(key, data, services.settings.overlay_ttl_s)
    return data


@router.get("/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/top/{rank}/maps", response_model=ModeMaps)
async def get_mode_maps(
    ref: ModeDep, rank: RankPath, basis: BasisDep, _cache: AtlasCache, sign: SignQuery = Sign.pos
) -> ModeMaps:
    _winner(ref, basis, sign, rank)
    query, key = ref.atlas.maps(basis, ref.layer, ref.head, ref.mode, sign, rank)
    return mode_maps(query, key, ref.atlas.image_size)
