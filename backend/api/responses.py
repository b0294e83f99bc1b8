"""Binary responses, documented as such in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from backend.schemas import ErrorBody

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "description": "PNG"}
}
JPEG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        "description": "JPEG",
    }
}

#: The answers of a request that may need an image analysed (see backend.services.analysis).
MODEL_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "The model cannot be run here; or the analysis queue is full (then with `Retry-After`: "
        "try again after that many seconds)",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before retrying; only when the analysis queue is full",
                "schema": {"type": "integer"},
            }
        },
    }
}


def png(data: bytes) -> Response:
    """A PNG body; its ETag and Cache-Control come from the route's cache policy (``backend.api.caching``)."""
    return Response(data, media_type="image/png")


#: The removing-modes routes: a bad mode set (422, with the reason), and the model's unavailability.
ABLATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "The mode set is malformed, empty, repeats a mode, names a mode the head lacks or an inactive "
        "one, or is given both as `remove` and `keep_top`",
    },
    **MODEL_UNAVAILABLE,
}
