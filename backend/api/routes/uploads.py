"""Uploaded images: store, show as each model sees it, and analyse with an atlas's model.

Maps, rankings and attention rows are computed on the first request for an (upload, model) and
cached with the upload's remaining TTL (see ``backend.services.analysis``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, Response, UploadFile

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
    AblationQueryDep,
    AtlasDep,
    BasisDep,
    HeadDep,
    ModeDep,
    OverlayDep,
    PinnedRevision,
    ServicesDep,
    SignQuery,
    check_upload_rate,
    id_path,
    not_found,
)
from backend.api.responses import ABLATION_RESPONSES, MODEL_UNAVAILABLE, PNG_RESPONSE, png
from backend.schemas import (
    AttentionSplit,
    Basis,
    ErrorBody,
    ModeAblation,
    ModeMaps,
    Sign,
    Upload,
    UploadHeadModes,
    UploadModelModes,
    UploadModeStanding,
)
from backend.services import upload_results
from backend.services.ablations import mode_ablation
from backend.services.overlays import overlay_png
from backend.services.uploads import UPLOAD_GONE, UPLOAD_ID_PATTERN, UploadInfo
from qkatlas.atlas.statistics import SignedMode

router = APIRouter(prefix="/uploads", tags=["uploads"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)
#: Where an upload's results under one atlas's model live, below the router's prefix.
UNDER_MODEL = "/{upload_id}/models/{model}"
UNDER_HEAD = UNDER_MODEL + "/layers/{layer}/heads/{head}"
UNDER_MODE = UNDER_HEAD + "/modes/{mode}"


@router.post(
    "",
    response_model=Upload,
    status_code=201,
    responses={
        400: {"model": ErrorBody, "description": "Truncated or corrupt image"},
        413: {"model": ErrorBody, "description": "File or image too large"},
        415: {"model": ErrorBody, "description": "Not a supported raster image"},
        429: {"model": ErrorBody, "description": "Too many uploads from this address"},
        503: {
            "model": ErrorBody,
            "description": "The upload store (Redis) is unreachable: nothing was kept; try again after `Retry-After`",
        },
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
    return (await services.uploads.add(data)).to_response()


async def get_upload_info(
    services: ServicesDep,
    upload_id: Annotated[
        str,
        *id_path(
            UPLOAD_ID_PATTERN,
            what="an upload id",
            rule="upload ids are the 32 lower-case hex digits `POST /api/uploads` answered with",
            description="From `POST /api/uploads`.",
        ),
    ],
) -> UploadInfo:
    info = await services.uploads.info(upload_id)
    if info is None:
        raise not_found(UPLOAD_GONE)
    return info


UploadDep = Annotated[UploadInfo, Depends(get_upload_info)]


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


@router.get("/{upload_id}", response_model=Upload)
async def get_upload(upload: UploadDep, _cache: UploadMetadataCache) -> Upload:
    return upload.to_response()


@router.get(
    f"{UNDER_MODEL}/image.png",
    response_class=Response,
    responses=PNG_RESPONSE,
)
async def get_upload_image(upload: UploadDep, atlas: AtlasDep, services: ServicesDep, _cache: UploadCache) -> Response:
    data = await services.analysis.model_image(upload, atlas)
    return png(data)


@router.get(
    UNDER_HEAD,
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
    analysis = await services.analysis.head(upload, ref.atlas, ref.layer, ref.head)
    return upload_results.head_modes(upload, ref.atlas, ref.layer, ref.head, basis, analysis)


@router.get(
    f"{UNDER_MODEL}/modes",
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
    return upload_results.model_modes(upload, atlas, basis, model_scores, limit)


@router.get(
    f"{UNDER_MODE}/maps",
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
    analysis = await services.analysis.head(upload, ref.atlas, ref.layer, ref.head)
    return upload_results.upload_mode_maps(analysis, ref.atlas, basis, SignedMode(ref.layer, ref.head, ref.mode, sign))


@router.get(
    f"{UNDER_MODE}/standing",
    response_model=UploadModeStanding,
    responses=MODEL_UNAVAILABLE,
)
async def get_upload_mode_standing(
    upload: UploadDep,
    ref: ModeDep,
    basis: BasisDep,
    services: ServicesDep,
    _cache: UploadCache,
    sign: SignQuery = Sign.pos,
) -> UploadModeStanding:
    """The upload's score for the signed mode, whether the mode fires on it, and where the score falls among the
    dataset's scores (docs/method.md#standing-in-the-distribution)."""
    analysis = await services.analysis.head(upload, ref.atlas, ref.layer, ref.head)
    mode = SignedMode(ref.layer, ref.head, ref.mode, sign)
    return upload_results.upload_mode_standing(upload, ref.atlas, mode, basis, analysis)


@router.get(
    f"{UNDER_MODE}/overlay.png",
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
    analysis = await services.analysis.head(upload, ref.atlas, ref.layer, ref.head)
    mode = SignedMode(ref.layer, ref.head, ref.mode, sign)
    query, key, scale = upload_results.analysed_mode_maps(analysis, ref.atlas, basis, mode)
    photo = await services.analysis.model_image(upload, ref.atlas) if options.blend > 0 else None
    data = await asyncio.to_thread(
        overlay_png, query, key, size=ref.atlas.image_size, options=options, scale=scale, photo=photo
    )
    return png(data)


@router.get(
    f"{UNDER_HEAD}/attention",
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
    return upload_results.attention_split(upload, atlas, ref.layer, ref.head, query_patch, row)


@router.get(f"{UNDER_HEAD}/ablation", response_model=ModeAblation, responses=ABLATION_RESPONSES)
async def get_upload_ablation(
    upload: UploadDep, query: AblationQueryDep, services: ServicesDep, _cache: UploadCache
) -> ModeAblation:
    """The upload run through the atlas's model as it is and with modes of this head removed from its logits,
    every later block recomputed (docs/method.md#removing-modes): the query patch's attention row before and
    after, attention moved per query patch, and the model's output before and after. Computed on the
    analysis queue (on the model's device) once per removed set and query patch, and cached with the upload."""
    ref = query.ref
    subject = services.analysis.upload_subject(upload)
    record = await services.analysis.ablation(subject, ref.atlas, ref.layer, ref.head, query.removed, query.query_patch)
    return mode_ablation(
        ref.atlas, upload.id, ref.layer, ref.head, query.removed, query.keep_top, query.query_patch, record
    )
