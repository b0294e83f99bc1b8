"""The FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import backend
from backend.api.compression import add_compression
from backend.api.docs import OPENAPI_URL, add_offline_docs
from backend.api.routes import (
    citation,
    figures,
    health,
    image_maps,
    images,
    lists,
    models,
    modes,
    pages,
    previews,
    progress,
    search,
    uploads,
)
from backend.api.routes.pages import page_head_html
from backend.api.security import SecurityHeaders, headers_for
from backend.core.cache import make_cache
from backend.core.config import Settings
from backend.services.analysis.analyzers import ModelUnavailable
from backend.services.analysis.queue import AnalysisBusy
from backend.services.analysis.runner import UploadGone
from backend.services.container import Services
from backend.services.page_meta import HEAD_PLACEHOLDER, describe_address
from backend.services.uploads import UPLOAD_GONE, UploadRejected, UploadStoreUnavailable

log = logging.getLogger(__name__)

API_PREFIX = "/api"
#: Room for the multipart envelope around an upload of ``max_upload_bytes``.
_MULTIPART_OVERHEAD = 64 * 1024


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class _UploadSizeLimit:
    """Refuse upload bodies over the limit with 413 before (or while) they are read, never after."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/api/uploads"):
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _error(413, f"upload too large (limit {limit - _MULTIPART_OVERHEAD:,} bytes)")(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"upload too large (limit {limit - _MULTIPART_OVERHEAD:,} bytes)")
            return message

        await self.app(scope, limited_receive, send)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's answer, each error once: a parameter that several dependencies read is reported by each.
        errors = jsonable_encoder(error.errors())
        unique = list({json.dumps(item, sort_keys=True): item for item in errors}.values())
        return JSONResponse({"detail": unique}, status_code=422)

    @app.exception_handler(UploadRejected)
    async def _rejected(_request: Request, error: UploadRejected) -> JSONResponse:
        return _error(error.status, error.reason)

    @app.exception_handler(UploadStoreUnavailable)
    async def _store_away(_request: Request, error: UploadStoreUnavailable) -> JSONResponse:
        return _error(503, str(error), headers={"Retry-After": str(error.retry_after_s)})

    @app.exception_handler(UploadGone)
    async def _gone(_request: Request, _error_: UploadGone) -> JSONResponse:
        return _error(404, UPLOAD_GONE)

    @app.exception_handler(ModelUnavailable)
    async def _unavailable(_request: Request, error: ModelUnavailable) -> JSONResponse:
        return _error(503, str(error))

    @app.exception_handler(AnalysisBusy)
    async def _busy(_request: Request, error: AnalysisBusy) -> JSONResponse:
        return _error(503, str(error), headers={"Retry-After": str(error.retry_after_s)})

    @app.exception_handler(Exception)
    async def _internal(request: Request, _error_: Exception) -> JSONResponse:
        # Logged with its traceback here; the client only learns that it failed.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Sent by Starlette's outermost middleware, past SecurityHeaders: the headers are added here.
        return _error(500, "internal error", headers=headers_for(request.scope))


def _serve_frontend(app: FastAPI, dist: Path, services: Services) -> None:
    """The built dashboard at ``/``; other paths get ``index.html`` (client-side routing) with the address's
    link-preview tags in its ``<head>``, and 404 when the address names no page of the atlases served now
    (the page itself then says what exists)."""
    root = dist.resolve()
    index = root / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    async def _frontend(path: str, request: Request) -> Response:
        if path == "api" or path.startswith("api/"):
            return _error(404, "Not Found")
        candidate = (root / path).resolve()
        if path and candidate.is_relative_to(root) and candidate.is_file():
            return FileResponse(candidate)
        atlases = services.atlases.atlases
        problem, meta = await describe_address(path, request.query_params, atlases, services.lists)
        shell = index.read_text()
        if HEAD_PLACEHOLDER not in shell:
            log.warning("%s has no %s: served without link-preview tags (rebuild it)", index, HEAD_PLACEHOLDER)
        page = shell.replace(HEAD_PLACEHOLDER, page_head_html(request, path, meta), 1)
        return HTMLResponse(page, status_code=200 if problem is None else 404, headers={"Cache-Control": "no-cache"})


def configure_logging(level: str) -> None:
    """Log the service's own messages at ``level`` (uvicorn configures its loggers itself)."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def create_app_from_env() -> FastAPI:
    """The app of one worker process of ``python -m backend --workers N``: uvicorn imports and calls
    this in each worker, which reads its settings from the ``QKATLAS_*`` variables the command set."""
    settings = Settings()  # type: ignore[call-arg]  # atlas_dir comes from QKATLAS_ATLAS_DIR
    configure_logging(settings.log_level)
    return create_app(settings)


def create_app(settings: Settings) -> FastAPI:
    cache = make_cache(settings.redis_url, settings.memory_cache_bytes, clock=settings.clock)
    services = Services.create(settings, cache)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watch = asyncio.create_task(services.atlases.watch(settings.atlas_poll_s)) if settings.atlas_poll_s else None
        yield
        if watch is not None:
            watch.cancel()
        await services.close()

    app = FastAPI(
        title="qkatlas",
        version=backend.__version__,
        summary="Query-key singular modes of vision transformers: browse the atlas, analyse your images.",
        openapi_url=OPENAPI_URL,
        docs_url=None,  # served by add_offline_docs, without a CDN
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.services = services
    for module in (
        health,
        models,
        modes,
        figures,
        images,
        image_maps,
        uploads,
        progress,
        search,
        pages,
        previews,
        lists,
        citation,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    add_offline_docs(app)
    _add_error_handlers(app)
    app.add_middleware(_UploadSizeLimit, max_body_bytes=settings.max_upload_bytes + _MULTIPART_OVERHEAD)
    add_compression(app)
    app.add_middleware(SecurityHeaders)
    if settings.frontend_dist is not None and (settings.frontend_dist / "index.html").is_file():
        _serve_frontend(app, settings.frontend_dist, services)
    return app
