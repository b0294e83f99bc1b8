"""Binary responses, documented as such in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from fastapi import Response

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "description": "PNG"}
}
JPEG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        "description": "JPEG",
    }
}


def png(data: bytes) -> Response:
    """A PNG body; its ETag and Cache-Control come from the route's cache policy (``backend.api.caching``)."""
    return Response(data, media_type="image/png")
