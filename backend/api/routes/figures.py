"""Figures for papers of a mode and of a head, as SVG (text as paths) or as a 300-dpi PNG, downloaded as files."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from backend.api import deps
from backend.api.caching import AtlasCache, CachedRoute, atlas_policy, replace_policy
from backend.api.deps import BasisDep, HeadDep, ModeDep, OverlayDep, RevisionQuery, ServicesDep, SignQuery
from backend.api.responses import MODEL_UNAVAILABLE
from backend.schemas import ErrorBody, Sign
from backend.services.figures import cached_head_figure, cached_mode_figure, subject
from qkatlas.atlas import AtlasReplaced
from qkatlas.atlas.statistics import SignedMode
from qkatlas.figures import FigureFormat

router = APIRouter(
    prefix="/models/{model}/layers/{layer}/heads/{head}",
    tags=["figures"],
    responses={404: {"model": ErrorBody}},
    route_class=CachedRoute,
)

MEDIA_TYPES = {FigureFormat.svg: "image/svg+xml", FigureFormat.png: "image/png"}
FIGURE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()},
        "description": "The figure as a file to download (`Content-Disposition: attachment`)",
    }
}
FormatPath = Annotated[
    FigureFormat,
    Path(description="`svg` (text converted to paths, images embedded) or `png` (300 dpi)."),
]


def _download(data: bytes, file_format: FigureFormat, name: str) -> Response:
    """The figure as an attachment; its ETag and Cache-Control come from the route's cache policy."""
    filename = f"{name}.{file_format.value}"
    return Response(
        data,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/modes/{mode}/figure.{file_format}", response_class=Response, responses={**FIGURE_RESPONSE, **MODEL_UNAVAILABLE}
)
async def get_mode_figure(
    request: Request,
    ref: ModeDep,
    file_format: FormatPath,
    basis: BasisDep,
    options: OverlayDep,
    services: ServicesDep,
    _cache: AtlasCache,
    sign: SignQuery = Sign.pos,
    v: RevisionQuery = None,
) -> Response:
    """The signed mode's top images with their maps (drawn as its overlays, with the same options), one sampled
    image per band of its score distribution where the atlas has samples (their maps computed with the atlas's
    model on the first request, as for `…/images/{image_id}/maps`; photos only where the model cannot run here),
    the numbered colour bars of the maps,
    and a caption naming the model, its weights revision, the atlas revision, the dataset, the layer, head, mode,
    sign and basis (docs/method.md#figures)."""
    draw = partial(cached_mode_figure, services.renders, services.analysis, services.settings)
    mode = SignedMode(ref.layer, ref.head, ref.mode, sign)
    try:
        data = await draw(ref.atlas, mode, basis, options, file_format)
    except AtlasReplaced:
        atlas = await deps.atlas_after_replacement(services, ref.atlas.slug, v)
        replace_policy(request, atlas_policy(request, [atlas], pinned=v is not None))
        ref = await deps.get_mode(await deps.get_head(atlas, ref.layer, ref.head), ref.mode)
        basis = await deps.get_basis(atlas, basis)
        data = await draw(atlas, mode, basis, options, file_format)
    about = subject(ref.atlas, ref.layer, ref.head, ref.mode, sign, basis)
    return _download(data, file_format, about.filename)


@router.get("/figure.{file_format}", response_class=Response, responses=FIGURE_RESPONSE)
async def get_head_figure(
    request: Request,
    ref: HeadDep,
    file_format: FormatPath,
    basis: BasisDep,
    options: OverlayDep,
    services: ServicesDep,
    _cache: AtlasCache,
    sign: SignQuery = Sign.pos,
    v: RevisionQuery = None,
) -> Response:
    """The head's first active modes (largest σ first), one row each with its σ, its first top images with their
    maps and its own colour bars, and the caption of a mode figure (docs/method.md#figures)."""
    renders, ttl_s = services.renders, services.settings.overlay_ttl_s
    try:
        data = await cached_head_figure(
            renders, ttl_s, ref.atlas, ref.layer, ref.head, sign, basis, options, file_format
        )
    except AtlasReplaced:
        atlas = await deps.atlas_after_replacement(services, ref.atlas.slug, v)
        replace_policy(request, atlas_policy(request, [atlas], pinned=v is not None))
        ref = await deps.get_head(atlas, ref.layer, ref.head)
        basis = await deps.get_basis(atlas, basis)
        data = await cached_head_figure(renders, ttl_s, atlas, ref.layer, ref.head, sign, basis, options, file_format)
    about = subject(ref.atlas, ref.layer, ref.head, None, sign, basis)
    return _download(data, file_format, about.filename)
