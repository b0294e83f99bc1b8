"""Whether a dashboard address names a page: how nginx (deploy/nginx.conf) gives the app page the right
HTTP status, since it serves the dashboard without knowing the atlases."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from backend.api.caching import ServedAtlases
from backend.api.deps import ServicesDep
from backend.schemas import PageCheck
from backend.services.page_meta import PageMeta, describe_address, page_head
from backend.services.pages import address_problem

router = APIRouter(tags=["pages"])

#: Where nginx serves the app page from: a location that answers it as it is, or one that answers it with 404.
SHELL = "@app_page"
SHELL_NOT_FOUND = "@page_not_found"
#: nginx passes this on with the app page (as it does every Cache-Control with X-Accel-Redirect): asked again
#: on every visit, like index.html, since whether the address exists changes with the atlases served.
APP_PAGE_POLICY = "no-cache"
#: nginx passes the Content-Type of an X-Accel-Redirect answer on with the page it redirects to.
APP_PAGE_TYPE = "text/html; charset=utf-8"


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


@router.get("/page-shell/{path:path}", include_in_schema=False)
async def get_page_shell(path: str, request: Request, atlases: ServedAtlases, services: ServicesDep) -> Response:
    """nginx's question for a dashboard address (deploy/nginx.conf): the app page (``X-Accel-Redirect``)
    with 200 or 404 as ``get_page`` says, and the page's own Content-Type and Cache-Control (nginx passes
    both on; ``get_page``'s JSON type would be the page's)."""
    problem = await address_problem(path, request.query_params, atlases, services.lists.exists_async)
    return Response(
        status_code=200 if problem is None else 404,
        headers={
            "X-Accel-Redirect": SHELL if problem is None else SHELL_NOT_FOUND,
            "Cache-Control": APP_PAGE_POLICY,
            "Content-Type": APP_PAGE_TYPE,
        },
    )


def public_origin(request: Request) -> str:
    """``scheme://host[:port]`` as the client asked for it (through nginx: its X-Forwarded-Proto/-Host)."""
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host}"


def page_head_html(request: Request, path: str, meta: PageMeta) -> str:
    """The link-preview tags ``meta`` of the dashboard address ``/{path}`` with the request's query."""
    origin = public_origin(request)
    query = request.url.query
    url = f"{origin}/{quote(path)}{'?' + query if query else ''}"
    return page_head(meta, url, origin)


@router.get("/page-head/{path:path}", response_class=HTMLResponse)
async def get_page_head(path: str, request: Request, atlases: ServedAtlases, services: ServicesDep) -> HTMLResponse:
    """The `<head>` tags of the dashboard address `/{path}?{query}`: its `<title>`, description, Open Graph
    and Twitter-card tags (link previews). nginx includes them into the app page (SSI); the backend, serving
    the dashboard itself, writes the same into it."""
    _problem, meta = await describe_address(path, request.query_params, atlases, services.lists)
    return HTMLResponse(page_head_html(request, path, meta), headers={"Cache-Control": APP_PAGE_POLICY})
