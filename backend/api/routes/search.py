"""Finding modes: search by name or class across every served model, and one class across models."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from backend.api.caching import CachedRoute, ServedAtlases, ServedAtlasesCache
from backend.schemas import Basis, ClassAcrossModels, ClassList, ErrorBody, SearchResults
from backend.services.search import class_across_models, list_classes, search, unknown_class

router = APIRouter(tags=["search"], responses={404: {"model": ErrorBody}}, route_class=CachedRoute)


@router.get("/search", response_model=SearchResults)
async def get_search(
    atlases: ServedAtlases,
    _cache: ServedAtlasesCache,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="`L6 H2 M3`, `dino-vitb16 L6 H2`, a model's name, or (part of) a class label.",
        ),
    ],
    basis: Annotated[
        Basis | None, Query(description="Basis of the class rankings; default: each atlas's first.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
) -> SearchResults:
    """Models, layers, heads and modes named by the query, and, for a class, the signed modes most
    selective for it across every served model."""
    return await asyncio.to_thread(search, atlases, q.strip(), basis, limit)


@router.get("/classes", response_model=ClassList)
async def get_classes(atlases: ServedAtlases, _cache: ServedAtlasesCache) -> ClassList:
    """Every class of every served dataset with labels, with its image count in each dataset."""
    return await asyncio.to_thread(list_classes, atlases)


@router.get("/classes/{label}", response_model=ClassAcrossModels)
async def get_class(
    atlases: ServedAtlases,
    _cache: ServedAtlasesCache,
    label: Annotated[
        str, Path(min_length=1, max_length=200, description="A class label (case-insensitive; `_` = space).")
    ],
    basis: Annotated[Basis | None, Query(description="Default: each atlas's first basis.")] = None,
    limit: Annotated[int, Query(ge=1, le=64)] = 8,
) -> ClassAcrossModels:
    """For one class, each served model's most selective signed modes, side by side."""
    result = await asyncio.to_thread(class_across_models, atlases, label, basis, limit)
    if (unknown := unknown_class(result)) is not None:
        raise HTTPException(status_code=404, detail=unknown)
    return result
