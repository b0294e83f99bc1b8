"""Whether a dashboard address names a page: how nginx (deploy/nginx.conf) gives the app page the right
HTTP status, since it serves the dashboard without knowing the atlases."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.api.caching import ServedAtlases
from backend.api.deps import ServicesDep
from backend.schemas import PageCheck
from backend.services.pages import address_problem

router = APIRouter(tags=["pages"])

#: Where nginx serves the app page from: a location that answers it as it is, or one that answers it with 404.
SHELL = "@app_page"
SHELL_NOT_FOUND = "@page_not_found"
#: nginx passes this on with the app page (as it does every Cache-Control with X-Accel-Redirect): asked again
#: on every visit, like index.html, since whether the address exists changes with the atlases served.
APP_PAGE_POLICY = "no-cache"


@router.get(
    "/pages/{path:path}",
    response_model=PageCheck,
    responses={404: {"model": PageCheck, "description": "The address names no page."}},
)
async def get_page(path: str, request: Request, atlases: ServedAtlases, services: ServicesDep) -> JSONResponse:
    """200 when `/{path}?{query}` is a page of the dashboard for the atlases served now (a model, layer,
    head, mode, mode-index filter, class or upload address that exists), 404 otherwise, with why. The
    `X-Accel-Redirect` header tells nginx which app page to answer the address with."""
    problem = await address_problem(path, request.query_params, atlases, services.lists.exists_async)
    body = PageCheck(path=f"/{path}", exists=problem is None, problem=problem)
    return JSONResponse(
        body.model_dump(),
        status_code=200 if problem is None else 404,
        headers={"X-Accel-Redirect": SHELL if problem is None else SHELL_NOT_FOUND, "Cache-Control": APP_PAGE_POLICY},
    )
