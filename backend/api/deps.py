"""Dependencies: the service objects, and path/query parameters resolved to atlas locations.

All are ``async``: they do no blocking work, and FastAPI would run sync ones in its thread pool (a
thread hop per dependency per request). Out-of-range layer/head/mode/rank → 404 (the resource does
not exist); malformed values (negative, not a number, not an allowed option) → 422 from validation.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from backend.core.text import count
from backend.schemas import Basis, Channel, Palette, Sign
from backend.services.container import Services
from backend.services.overlays import DEFAULT_BLEND, DEFAULT_OPACITY, OverlayOptions
from qkatlas.ablation import InvalidModes, all_but_strongest, check_removed
from qkatlas.atlas import Atlas

MODEL_SLUG_PATTERN = r"^[a-z0-9._-]{1,200}$"
REVISION_PATTERN = r"^[0-9a-f]{16}$"


def id_path(pattern: str, *, what: str, rule: str, description: str) -> tuple[object, AfterValidator]:
    """``Annotated`` metadata of a path id that must match ``pattern``: a mismatch answers 422 with the
    sentence "'<value>' is not <what>: <rule>" instead of the validator's regex; the OpenAPI document still
    gives the pattern."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.match(value) is None:
            shown = value if len(value) <= 80 else f"{value[:80]}…"
            raise PydanticCustomError(
                "malformed_id", "'{value}' is not {what}: {rule}", {"value": shown, "what": what, "rule": rule}
            )
        return value

    return Path(description=description, json_schema_extra={"pattern": pattern}), AfterValidator(check)


async def check_rate(request: Request, services: Services, action: str, *, limit: int, window_s: int) -> None:
    """429 with ``Retry-After`` when this client address has done ``action`` too often in the current window
    (each route that creates something calls it, once it knows the request is otherwise valid)."""
    client = request.client.host if request.client else "unknown"
    if not await services.rate_limits.allow(action, client, limit=limit, window_s=window_s):
        raise HTTPException(429, f"too many {action}; try again later", headers={"Retry-After": str(window_s)})


async def check_upload_rate(request: Request, services: Services) -> None:
    """429 when this client address has made too many uploads in the current window."""
    settings = services.settings
    await check_rate(
        request, services, "uploads", limit=settings.upload_rate_limit, window_s=settings.upload_rate_window_s
    )


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def not_found(detail: str) -> HTTPException:
    return HTTPException(status_code=404, detail=detail)


RevisionQuery = Annotated[
    str | None,
    Query(
        pattern=REVISION_PATTERN,
        description="The atlas revision this address was made for (`revision` in `GET /api/models`). With it, "
        "the response is cacheable for good and the address stops working (404) once the atlas is rebuilt; "
        "without it, the response comes from whatever atlas is served now.",
    ),
]


async def pinned_revision(v: RevisionQuery = None) -> str | None:
    """``?v=``: the atlas revision the address names, if any (one parameter however many dependencies read it)."""
    return v


PinnedRevision = Annotated[str | None, Depends(pinned_revision)]


async def get_atlas(
    services: ServicesDep,
    model: Annotated[str, Path(description="Atlas slug (see `GET /api/models`).", pattern=MODEL_SLUG_PATTERN)],
    v: PinnedRevision,
) -> Atlas:
    return current_atlas(services, model, v)


async def atlas_after_replacement(services: Services, slug: str, revision: str | None) -> Atlas:
    """After ``AtlasReplaced`` (a file the request needed went with its atlas): the folder is re-listed
    now and the atlas served as ``slug`` answers instead (404 when ``revision`` named the replaced one)."""
    await asyncio.to_thread(services.atlases.refresh)
    return current_atlas(services, slug, revision)


def current_atlas(services: Services, slug: str, revision: str | None) -> Atlas:
    """The atlas served as ``slug`` now; 404 when there is none, or when it is not ``revision``."""
    atlas = services.atlases.get(slug)
    if atlas is None:
        raise not_found(f"no model {slug!r}")
    if revision is not None and revision != atlas.revision:
        raise not_found(
            f"model {slug!r} was rebuilt since this address was made (revision {revision}, now {atlas.revision}): "
            "reload the page"
        )
    return atlas


AtlasDep = Annotated[Atlas, Depends(get_atlas)]


@dataclass(frozen=True)
class HeadRef:
    atlas: Atlas
    layer: int
    head: int


async def get_head(
    atlas: AtlasDep,
    layer: Annotated[int, Path(ge=0, le=10_000)],
    head: Annotated[int, Path(ge=0, le=10_000)],
) -> HeadRef:
    if layer >= atlas.n_layers:
        raise not_found(f"no layer {layer}: the model has {count(atlas.n_layers, 'layer')}")
    if head >= atlas.n_heads:
        raise not_found(f"no head {head}: the model has {count(atlas.n_heads, 'head')} per layer")
    return HeadRef(atlas, layer, head)


HeadDep = Annotated[HeadRef, Depends(get_head)]


@dataclass(frozen=True)
class ModeRef:
    atlas: Atlas
    layer: int
    head: int
    mode: int


async def get_mode(head: HeadDep, mode: Annotated[int, Path(ge=0, le=100_000)]) -> ModeRef:
    if mode >= head.atlas.n_modes:
        raise not_found(f"no mode {mode}: each head has {count(head.atlas.n_modes, 'mode')}")
    return ModeRef(head.atlas, head.layer, head.head, mode)


ModeDep = Annotated[ModeRef, Depends(get_mode)]


async def get_basis(
    atlas: AtlasDep,
    basis: Annotated[
        Basis, Query(description="Which tokens are projected (docs/method.md#projection-bases).")
    ] = Basis.faithful,
) -> Basis:
    if basis not in atlas.bases:
        raise not_found(f"this atlas has no {basis.value!r} basis")
    return basis


BasisDep = Annotated[Basis, Depends(get_basis)]
SignQuery = Annotated[Sign, Query(description="`pos` = (u, v), `neg` = (−u, −v).")]


async def get_overlay_options(
    channel: Annotated[Channel, Query(description="Which maps to draw.")] = Channel.both,
    palette: Annotated[Palette, Query(description="Colours of the query and key maps.")] = Palette.red_cyan,
    blend: Annotated[
        float,
        Query(ge=0.0, le=1.0, description="Brightness of the colour photo under the maps (0 = maps only)."),
    ] = DEFAULT_BLEND,
    opacity: Annotated[
        float,
        Query(
            ge=0.0,
            le=1.0,
            description="Strength of the maps over the photo (1 = full: a hot patch hides the photo; 0 = the photo "
            "alone).",
        ),
    ] = DEFAULT_OPACITY,
) -> OverlayOptions:
    return OverlayOptions(channel, palette, blend, opacity)


OverlayDep = Annotated[OverlayOptions, Depends(get_overlay_options)]


# --- removing modes (docs/method.md#removing-modes) --------------------------------------------------

_MODE_LIST = re.compile(r"^\d{1,6}(,\d{1,6}){0,999}$")


@dataclass(frozen=True)
class AblationQuery:
    """Which modes of a head to remove (ascending, checked against the atlas) and whose attention row to show."""

    ref: HeadRef
    removed: tuple[int, ...]
    keep_top: int | None
    query_patch: int


async def get_ablation_query(
    ref: HeadDep,
    query_patch: Annotated[
        int, Query(ge=0, le=1_000_000, description="Row-major index of the query patch in the grid.")
    ],
    remove: Annotated[
        str | None,
        Query(max_length=7000, description="The modes to remove, comma-separated (e.g. `0,3`); or use `keep_top`."),
    ] = None,
    keep_top: Annotated[
        int | None,
        Query(ge=0, le=100_000, description="Remove every active mode but the `keep_top` of largest σ."),
    ] = None,
) -> AblationQuery:
    """404 without an exact basis or outside the grid; 422 for a mode set that is malformed, empty, repeats a
    mode, names one the head lacks or an inactive one (σ = 0), or is given both ways."""
    atlas = ref.atlas
    if Basis.exact not in atlas.bases:
        raise not_found("this atlas has no 'exact' basis: removing modes needs the modes that rebuild the logits")
    if query_patch >= atlas.grid * atlas.grid:
        raise not_found(f"no query patch {query_patch}: the grid has {atlas.grid}×{atlas.grid} patches")
    if (remove is None) == (keep_top is None):
        raise HTTPException(422, "give exactly one of `remove` (modes, e.g. 0,3) and `keep_top` (a number)")
    active = atlas.active(ref.layer, ref.head)
    try:
        if remove is not None:
            if _MODE_LIST.match(remove) is None:
                raise InvalidModes(
                    f"'{remove[:80]}' is not a list of mode numbers: write them comma-separated, e.g. 0,3"
                )
            removed = check_removed(active, [int(n) for n in remove.split(",")])
        else:
            assert keep_top is not None
            removed = all_but_strongest(active, keep_top)
    except InvalidModes as invalid:
        raise HTTPException(422, str(invalid)) from None
    return AblationQuery(ref, removed, keep_top, query_patch)


AblationQueryDep = Annotated[AblationQuery, Depends(get_ablation_query)]
