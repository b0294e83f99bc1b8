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


def atlas_cache_control(*, pinned: bool) -> str:
    """Atlas-derived resources: an address that names the atlas's revision (``?v=``) never changes
    meaning, so it is cached for good; one that does not may be rebuilt, so caches must ask again."""
    return "public, max-age=31536000, immutable" if pinned else "no-cache"


def png(data: bytes, cache_control: str) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": cache_control})


def private_cache_control(max_age_s: int, *, pinned: bool) -> str:
    """Upload-derived resources: only the uploader's browser may cache them, not past the upload's TTL,
    and only when the address names the atlas revision they were computed with."""
    return f"private, max-age={max(0, max_age_s)}" if pinned else "private, no-cache"
