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


def add_offline_docs(app: FastAPI, *, docs_url: str, openapi_url: str, title: str) -> None:
    """Serve Swagger UI at ``docs_url`` for the document at ``openapi_url`` (call with FastAPI's ``docs_url=None``)."""
    assets = f"{docs_url}/assets"
    app.mount(assets, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    async def _docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            swagger_ui_parameters=_OFFLINE_PARAMETERS,
        )
