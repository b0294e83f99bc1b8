"""How to cite the software: `CITATION.cff`, served with a BibTeX entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from backend.api.caching import REVALIDATE, CachedRoute, CachePolicy, strong_etag, use_policy
from backend.schemas import SoftwareCitation
from backend.services.citation import software_citation

router = APIRouter(prefix="/citation", tags=["citation"], route_class=CachedRoute)


async def citation_cache(request: Request) -> CachePolicy:
    """Derived from `CITATION.cff` alone, which changes only with the code: revalidated, never pinned."""
    return use_policy(request, CachePolicy(REVALIDATE, strong_etag("citation", software_citation().bibtex)))


@router.get("", response_model=SoftwareCitation)
async def get_citation(_cache: Annotated[CachePolicy, Depends(citation_cache)]) -> SoftwareCitation:
    """How to cite qkatlas itself (from the repository's `CITATION.cff`), with a BibTeX entry; a mode or head
    is cited with it, the atlas revision and the page's address (the dashboard's Share menu)."""
    return software_citation()
