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

#: Atlas-derived resources never change while the service runs.
ATLAS_CACHE_CONTROL = "public, max-age=3600"


def png(data: bytes, cache_control: str) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": cache_control})


def private_cache_control(max_age_s: int) -> str:
    """Upload-derived resources: only the uploader's browser may cache them, and not past the TTL."""
    return f"private, max-age={max(0, max_age_s)}"
