"""The API's interactive documentation (Swagger UI) with every asset served by the service itself.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, so it stays blank on a machine without internet
access. Here the page's script, stylesheet and icon come from the pinned ``swagger-ui-bundle-v2`` package
(Swagger UI 5, which reads the OpenAPI 3.1 document FastAPI writes), mounted under ``<docs>/assets``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

#: Swagger UI's own defaults that would reach out: the spec validator's badge (off).
_OFFLINE_PARAMETERS = {"validatorUrl": None}
#: Where the service serves its documentation and the document it reads.
DOCS_URL, OPENAPI_URL, DOCS_TITLE = "/api/docs", "/api/openapi.json", "qkatlas API"


def docs_page(docs_url: str = DOCS_URL, openapi_url: str = OPENAPI_URL, title: str = DOCS_TITLE) -> HTMLResponse:
    """The Swagger UI page (its inline script is allowed by hash: backend/api/security.py)."""
    assets = f"{docs_url}/assets"
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        swagger_ui_parameters=_OFFLINE_PARAMETERS,
    )


def add_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``DOCS_URL`` for the document at ``OPENAPI_URL`` (call with FastAPI's ``docs_url=None``)."""
    app.mount(f"{DOCS_URL}/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def _docs() -> HTMLResponse:
        return docs_page()
