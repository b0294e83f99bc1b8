"""Uploaded images: store, show as each model sees it, and analyse with an atlas's model.

Maps, rankings and attention rows are computed on the first request for an (upload, model) and
cached with the upload's remaining TTL (see ``backend.services.analysis``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, Response, UploadFile

from backend.api.caching import (
    PRIVATE_REVALIDATE,
    CachedRoute,
    CachePolicy,
    atlas_identity,
    private_max_age,
    request_identity,
    strong_etag,
    use_policy,
)
from backend.api.deps import (
    AtlasDep,
    BasisDep,
    HeadDep,
    ModeDep,
    ModeRef,
    OverlayDep,
    PinnedRevision,
    ServicesDep,
    SignQuery,
    not_found,
)
from backend.api.responses import PNG_RESPONSE, png
from backend.schemas import (
    AttentionSplit,
    Basis,
    ErrorBody,
    ModeContribution,
    ModelRankedMode,
    ModeMaps,
    RankedMode,
    Sign,
    Upload,
    UploadHeadModes,
    UploadModelModes,
)
from backend.services.container import Services
from backend.services.overlays import mode_maps, overlay_png
from backend.services.uploads import UPLOAD_ID_PATTERN, UploadInfo
from qkatlas.analysis import rank_by_contribution

router = APIRouter(tags=["uploads"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)

CONTRIBUTION_RULE = (
    "C_n = sigma_n * max(pos score, neg score) per (layer, head): qkatlas's reconstruction of the "
    "paper's 'contribution to the attention score', which the paper does not define"
)


def upload_response(info: UploadInfo) -> Upload:
    return Upload(
        id=info.id,
        width=info.width,
        height=info.height,
        n_bytes=info.n_bytes,
        expires_in_s=info.expires_in_s(),
    )


async def check_upload_rate(request: Request, services: Services) -> None:
    """429 when this client address has made too many uploads in the current window."""
    settings = services.settings
    client = request.client.host if request.client else "unknown"
    if not await services.uploads.allow(
        client, limit=settings.upload_rate_limit, window_s=settings.upload_rate_window_s
    ):
        raise HTTPException(
            429,
            "too many uploads; try again later",
            headers={"Retry-After": str(settings.upload_rate_window_s)},
        )


@router.post(
    "/uploads",
    response_model=Upload,
    status_code=201,
    responses={
        400: {"model": ErrorBody, "description": "Truncated or corrupt image"},
        413: {"model": ErrorBody, "description": "File or image too large"},
        415: {"model": ErrorBody, "description": "Not a supported raster image"},
        429: {"model": ErrorBody, "description": "Too many uploads from this address"},
    },
)
async def create_upload(
    request: Request,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG, WebP, GIF, BMP or TIFF.")],
) -> Upload:
    settings = services.settings
    await check_upload_rate(request, services)
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"file too large (limit {settings.max_upload_bytes:,} bytes)")
    return upload_response(await services.uploads.add(data))


async def get_upload_info(
    services: ServicesDep,
    upload_id: Annotated[str, Path(pattern=UPLOAD_ID_PATTERN, description="From `POST /api/uploads`.")],
) -> UploadInfo:
    info = await services.uploads.info(upload_id)
    if info is None:
        raise not_found("no such upload (it may have expired)")
    return info


UploadDep = Annotated[UploadInfo, Depends(get_upload_info)]

#: The answers of a request that may need the upload analysed (see backend.services.analysis).
MODEL_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "The model cannot be run here; or the analysis queue is full (then with `Retry-After`: "
        "try again after that many seconds)",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before retrying; only when the analysis queue is full",
                "schema": {"type": "integer"},
            }
        },
    }
}


async def upload_cache(request: Request, upload: UploadDep, atlas: AtlasDep, v: PinnedRevision) -> CachePolicy:
    """What an upload and an atlas's model make of it: the uploader's browser only, never past the upload's
    expiry, and only without asking again when the address names the atlas revision (``?v=``)."""
    return use_policy(
        request,
        CachePolicy(
            cache_control=private_max_age(upload.expires_in_s()) if v is not None else PRIVATE_REVALIDATE,
            etag=strong_etag(f"upload {upload.id}", atlas_identity(atlas), request_identity(request)),
        ),
    )


async def upload_metadata_cache(request: Request, _upload: UploadDep) -> CachePolicy:
    """The upload's record counts down its expiry: its ETag is the body's hash, and it is always revalidated."""
    return use_policy(request, CachePolicy(cache_control=PRIVATE_REVALIDATE, etag=None))


UploadCache = Annotated[CachePolicy, Depends(upload_cache)]
UploadMetadataCache = Annotated[CachePolicy, Depends(upload_metadata_cache)]


@router.get("/uploads/{upload_id}", response_model=Upload)
async def get_upload(upload: UploadDep, _cache: UploadMetadataCache) -> Upload:
    return upload_response(upload)


@router.get(
    "/uploads/{upload_id}/models/{model}/image.png",
    response_class=Response,
    responses=PNG_RESPONSE,
)
async def get_upload_image(upload: UploadDep, atlas: AtlasDep, services: ServicesDep, _cache: UploadCache) -> Response:
    data = await services.analysis.model_image(upload, atlas)
    return png(data)


@router.get(
    "/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}",
    response_model=UploadHeadModes,
    responses=MODEL_UNAVAILABLE,
)
async def get_upload_head(
    upload: UploadDep,
    ref: HeadDep,
    basis: BasisDep,
    services: ServicesDep,
    _cache: UploadCache,
) -> UploadHeadModes:
    atlas, layer, head = ref.atlas, ref.layer, ref.head
    analysis = await services.analysis.head(upload, atlas, layer, head)
    scores, contribution = analysis.scores[basis], analysis.contribution[basis]
    sigma, cos, degenerate = atlas.sigma(layer, head), atlas.cos(layer, head), atlas.degenerate(layer, head)
    active = atlas.active(layer, head)
    return UploadHeadModes(
        upload_id=upload.id,
        model=atlas.slug,
        revision=atlas.revision,
        layer=layer,
        head=head,
        basis=basis,
        contribution_rule=CONTRIBUTION_RULE,
        modes=[
            RankedMode(
                rank=rank,
                mode=int(mode),
                sigma=float(sigma[mode]),
                cos=float(cos[mode]),
                degenerate=bool(degenerate[mode]),
                active=bool(active[mode]),
                pos_score=float(scores[mode, 0]),
                neg_score=float(scores[mode, 1]),
                sign=_stronger_sign(scores[mode]),
                contribution=float(contribution[mode]),
            )
            for rank, (mode,) in enumerate(rank_by_contribution(contribution, active))
        ],
        key_salience=analysis.key_salience.astype(np.float32).tolist(),
    )


def _stronger_sign(pos_neg: np.ndarray) -> Sign:
    return Sign.pos if pos_neg[0] >= pos_neg[1] else Sign.neg


@router.get(
    "/uploads/{upload_id}/models/{model}/modes",
    response_model=UploadModelModes,
    responses=MODEL_UNAVAILABLE,
)
async def get_upload_model_modes(
    upload: UploadDep,
    atlas: AtlasDep,
    basis: BasisDep,
    services: ServicesDep,
    _cache: UploadCache,
    limit: Annotated[int, Query(ge=1, le=200, description="How many of the top modes to list.")] = 20,
) -> UploadModelModes:
    """The model's modes, every layer and head, ranked by their contribution to the image: the same
    analysis and the same rule as a head's ranking, over the whole model."""
    model_scores = await services.analysis.model_scores(upload, atlas)
    scores, contribution = model_scores.scores[basis], model_scores.contribution[basis]
    active = atlas.active_all
    n_active = int(active.sum())
    # The ranking lists the active modes first: those are the candidates.
    top = rank_by_contribution(contribution, active)[: min(limit, n_active)]
    return UploadModelModes(
        upload_id=upload.id,
        model=atlas.slug,
        revision=atlas.revision,
        basis=basis,
        contribution_rule=CONTRIBUTION_RULE,
        n_modes_total=n_active,
        modes=[
            ModelRankedMode(
                rank=rank,
                layer=int(layer),
                head=int(head),
                mode=int(mode),
                sign=_stronger_sign(scores[layer, head, mode]),
                sigma=float(atlas.sigma_all[layer, head, mode]),
                cos=float(atlas.cos_all[layer, head, mode]),
                degenerate=bool(atlas.degenerate_all[layer, head, mode]),
                pos_score=float(scores[layer, head, mode, 0]),
                neg_score=float(scores[layer, head, mode, 1]),
                contribution=float(contribution[layer, head, mode]),
            )
            for rank, (layer, head, mode) in enumerate(top)
        ],
    )


async def _signed_maps(
    upload: UploadInfo, ref: ModeRef, basis: Basis, sign: Sign, services: Services
) -> tuple[np.ndarray, np.ndarray]:
    analysis = await services.analysis.head(upload, ref.atlas, ref.layer, ref.head)
    query = analysis.query[basis][ref.mode].astype(np.float32)
    key = analysis.key[basis][ref.mode].astype(np.float32)
    # Stored maps are those of the pos mode (u, v); the neg mode (−u, −v) has the negated maps.
    return (query, key) if sign == Sign.pos else (-query, -key)


@router.get(
    "/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/maps",
    response_model=ModeMaps,
    responses=MODEL_UNAVAILABLE,
)
async def get_upload_mode_maps(
    upload: UploadDep,
    ref: ModeDep,
    basis: BasisDep,
    services: ServicesDep,
    _cache: UploadCache,
    sign: SignQuery = Sign.pos,
) -> ModeMaps:
    query, key = await _signed_maps(upload, ref, basis, sign, services)
    return mode_maps(query, key, ref.atlas.image_size)


@router.get(
    "/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/overlay.png",
    response_class=Response,
    responses={**PNG_RESPONSE, **MODEL_UNAVAILABLE},
)
async def get_upload_mode_overlay(
    upload: UploadDep,
    ref: ModeDep,
    basis: BasisDep,
    options: OverlayDep,
    services: ServicesDep,
    _cache: UploadCache,
    sign: SignQuery = Sign.pos,
) -> Response:
    query, key = await _signed_maps(upload, ref, basis, sign, services)
    photo = await services.analysis.model_image(upload, ref.atlas) if options.blend > 0 else None
    data = await asyncio.to_thread(
        overlay_png,
        query,
        key,
        size=ref.atlas.image_size,
        channel=options.channel,
        palette=options.palette,
        blend=options.blend,
        opacity=options.opacity,
        photo=photo,
    )
    return png(data)


@router.get(
    "/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/attention",
    response_model=AttentionSplit,
    responses=MODEL_UNAVAILABLE,
)
async def get_upload_attention(
    upload: UploadDep,
    ref: HeadDep,
    services: ServicesDep,
    _cache: UploadCache,
    query_patch: Annotated[
        int, Query(ge=0, le=1_000_000, description="Row-major index of the query patch in the grid.")
    ],
) -> AttentionSplit:
    atlas = ref.atlas
    if Basis.exact not in atlas.bases:
        raise not_found("this atlas has no 'exact' basis")
    if query_patch >= atlas.grid * atlas.grid:
        raise not_found(f"no query patch {query_patch}: the grid has {atlas.grid}×{atlas.grid} patches")
    row = await services.analysis.attention(upload, atlas, ref.layer, ref.head, query_patch)
    prefix_kinds: list[str] = list(atlas.manifest.model.prefix_kinds)
    return AttentionSplit(
        upload_id=upload.id,
        model=atlas.slug,
        layer=ref.layer,
        head=ref.head,
        query_patch=query_patch,
        grid=atlas.grid,
        prefix_kinds=prefix_kinds,
        attention=row.attention.tolist(),
        patch_attention=row.attention[len(prefix_kinds) :].reshape(atlas.grid, atlas.grid).tolist(),
        reconstructed=row.reconstructed.tolist(),
        key_term=row.key_term.tolist(),
        modes=[ModeContribution(mode=n, logits=logits.tolist()) for n, logits in enumerate(row.mode_logits)],
    )
