"""gzip for the text the service answers (JSON, JavaScript, CSS, SVG, HTML), with ETags kept honest.

Starlette's ``GZipMiddleware`` compresses a response when the client accepts gzip and the body is at least
``MINIMUM_SIZE`` bytes, except the types of ``DEFAULT_EXCLUDED_CONTENT_TYPES`` (PNG, JPEG and the other
already-compressed formats are sent as they are); it adds ``Vary: Accept-Encoding``. It leaves the ETag
alone, but a strong ETag promises the same bytes, and the gzip body differs from the plain one:
``WeakenCompressedETags`` marks the ETag of a compressed response weak (``W/"…"``, as nginx does). The
routes' ``If-None-Match`` comparison is weak (``backend.api.caching``), so the client's ``W/"…"`` still gets
its 304, whose ETag is weakened the same way.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Smaller bodies are sent plain: compressing them saves less than the header costs.
MINIMUM_SIZE = 500
#: zlib's default level: most of level 9's saving at a fraction of its time on megabyte-sized JSON.
COMPRESS_LEVEL = 6


class WeakenCompressedETags:
    """Outside ``GZipMiddleware``: a gzip-encoded response's ETag becomes weak; so does a 304's when the
    client's ``If-None-Match`` holds that weak form (the copy it has is the compressed one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match", "")

        async def send_weakened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if etag is not None and not etag.startswith("W/"):
                    compressed = headers.get("content-encoding") == "gzip"
                    if compressed or (message["status"] == 304 and f"W/{etag}" in if_none_match):
                        headers["etag"] = f"W/{etag}"
            await send(message)

        await self.app(scope, receive, send_weakened)


def add_compression(app: FastAPI) -> None:
    # The last middleware added runs outermost: the ETags are weakened after gzip has decided.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=MINIMUM_SIZE,
        compresslevel=COMPRESS_LEVEL,
        exclude_content_types=DEFAULT_EXCLUDED_CONTENT_TYPES,
    )
    app.add_middleware(WeakenCompressedETags)
