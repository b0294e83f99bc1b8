"""Shared mode lists: create one (immutable, content-addressed) and read it back
(docs/architecture.md#shared-mode-lists)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from backend.api.caching import REVALIDATE, CachedRoute, CachePolicy, ServedAtlases, use_policy
from backend.api.deps import ServicesDep, check_rate, id_path, not_found
from backend.schemas import (
    LIST_ID_PATTERN,
    MAX_LIST_MODES,
    MAX_LIST_NOTE,
    MAX_LIST_TITLE,
    ErrorBody,
    ModeList,
    ModeListIn,
)
from backend.services.mode_lists import InvalidList, listed, pin_list

router = APIRouter(prefix="/lists", tags=["lists"], route_class=CachedRoute)


@router.post(
    "",
    response_model=ModeList,
    status_code=201,
    responses={
        200: {"model": ModeList, "description": "The same list existed already: its id (and nothing stored)"},
        422: {
            "model": ErrorBody,
            "description": "A mode no served atlas has (unknown or ambiguous model; layer, head or mode out of range; "
            "a basis the atlas lacks), a repeated mode, an empty title or a control character in the text; "
            "or a body the schema refuses (then FastAPI's list of errors)",
        },
        429: {"model": ErrorBody, "description": "Too many lists from this address"},
    },
    description=f"A list of modes from any served models, each with a note, pinned to the atlas revisions served "
    f"now: at most {MAX_LIST_MODES} modes, a title of up to {MAX_LIST_TITLE} characters and notes of up to "
    f"{MAX_LIST_NOTE}. Lists are immutable: the id is derived from the content, so posting the same list again "
    "answers the same id (200 instead of 201), and any change makes a new list.",
)
async def create_list(
    wanted: ModeListIn, request: Request, response: Response, services: ServicesDep, atlases: ServedAtlases
) -> ModeList:
    try:
        pinned = pin_list(wanted, atlases)
    except InvalidList as invalid:
        raise HTTPException(422, str(invalid)) from None
    settings = services.settings
    await check_rate(request, services, "lists", limit=settings.list_rate_limit, window_s=settings.list_rate_window_s)
    list_id, created = await services.lists.put_async(pinned)
    response.status_code = 201 if created else 200
    return listed(list_id, pinned, atlases)


async def list_cache(request: Request) -> CachePolicy:
    """The list never changes, but whether its atlases were rebuilt since does: revalidated each time, against
    the hash of the body (which says so)."""
    return use_policy(request, CachePolicy(cache_control=REVALIDATE, etag=None))


@router.get("/{list_id}", response_model=ModeList, responses={404: {"model": ErrorBody}})
async def get_list(
    list_id: Annotated[
        str,
        *id_path(
            LIST_ID_PATTERN,
            what="a list id",
            rule="list ids are the 26 lower-case letters and digits 2–7 `POST /api/lists` answered with",
            description="From `POST /api/lists`.",
        ),
    ],
    services: ServicesDep,
    atlases: ServedAtlases,
    _cache: Annotated[CachePolicy, Depends(list_cache)],
) -> ModeList:
    """The list with its modes in order, each saying whether its atlas is still the revision it was added from."""
    pinned = await services.lists.get_async(list_id)
    if pinned is None:
        raise not_found("no such list")
    return listed(list_id, pinned, atlases)
