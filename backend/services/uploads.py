"""Uploaded images: validated, keyed by content hash, kept only in the cache and only for the TTL.

An upload id is the first 32 hex digits (128 bits) of the SHA-256 of the file: the same file always
gets the same id, and an id cannot be guessed without having the file. The original bytes and a
small metadata record live in the cache with the upload TTL; everything derived from an upload
(analyses, rendered images) is stored with the *remaining* TTL of the upload, so nothing outlives it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from dataclasses import dataclass, field, fields

from PIL import Image

from backend.core.cache import Cache, SharedStoreUnavailable
from backend.core.clock import Clock
from backend.schemas import Upload
from qkatlas.images import DecodeErrorKind, ImageDecodeError, decode_image

UPLOAD_ID_PATTERN = r"^[0-9a-f]{32}$"
#: The answer about an upload the cache no longer has: its TTL passed, or the cache was lost (uploads live
#: only there: a restarted Redis, or a restarted service without one, keeps none).
UPLOAD_GONE = "no such upload: it expired, or the server lost it in a restart; upload the image again"


@dataclass(frozen=True)
class UploadInfo:
    id: str
    width: int
    height: int
    n_bytes: int
    expires_at: float  # Unix time
    #: The wall clock ``expires_at`` is read against (the store's).
    clock: Clock = field(default=time.time, repr=False, compare=False, kw_only=True)

    def expires_in_s(self) -> int:
        """Whole seconds left, rounded up (0 once expired): the TTL for anything derived from it."""
        return max(0, math.ceil(self.expires_at - self.clock()))

    def expired(self) -> bool:
        return self.expires_at <= self.clock()

    def to_json(self) -> bytes:
        """The stored record (everything but the clock)."""
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self) if f.name != "clock"}).encode()

    @classmethod
    def from_json(cls, raw: bytes, *, clock: Clock = time.time) -> UploadInfo:
        return cls(**json.loads(raw), clock=clock)

    def to_response(self) -> Upload:
        """What the API answers about the upload (its seconds left counted now)."""
        return Upload(
            id=self.id, width=self.width, height=self.height, n_bytes=self.n_bytes, expires_in_s=self.expires_in_s()
        )


class UploadRejected(Exception):
    """The file is not an acceptable image. ``status`` is the HTTP status, ``reason`` the message."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class UploadStoreUnavailable(Exception):
    """The store every worker reads uploads from (Redis) is unreachable (503 with ``Retry-After``): an upload
    taken now would be seen by this process only, and lost when Redis returns, so it is refused; and an
    upload not found meanwhile may well be there, so it is not answered as gone."""

    RETRY_AFTER_S = 5

    def __init__(self) -> None:
        super().__init__(
            "the server's upload store (Redis) is unreachable, so uploads are paused; "
            f"try again in {self.RETRY_AFTER_S} s"
        )
        self.retry_after_s = self.RETRY_AFTER_S


#: 415 for what is not a supported raster image, 413 for too many pixels, 400 for broken data.
_STATUS: dict[DecodeErrorKind, int] = {"unsupported": 415, "too_large": 413, "corrupt": 400}


def _key(upload_id: str) -> str:
    return f"qk:upload:{upload_id}"


def _meta_key(upload_id: str) -> str:
    return f"qk:upload-meta:{upload_id}"


class UploadStore:
    """Uploads in ``cache``; ``clock`` is the wall clock for their expiry (shared with other replicas through
    Redis)."""

    def __init__(self, cache: Cache, *, ttl_s: int, max_pixels: int, clock: Clock = time.time) -> None:
        self._cache = cache
        self._ttl_s = ttl_s
        self._max_pixels = max_pixels
        self._clock = clock

    def decode(self, data: bytes) -> Image.Image:
        """Decode stored or uploaded bytes (CPU-bound: call off the event loop)."""
        try:
            image = decode_image(data, max_pixels=self._max_pixels)
        except ImageDecodeError as error:
            raise UploadRejected(_STATUS[error.kind], error.reason) from None
        return image

    async def add(self, data: bytes) -> UploadInfo:
        image = await asyncio.to_thread(self.decode, data)
        upload_id = hashlib.sha256(data).hexdigest()[:32]
        expires_at = self._clock() + self._ttl_s
        info = UploadInfo(upload_id, image.width, image.height, len(data), expires_at, clock=self._clock)
        stored = {_key(upload_id): data, _meta_key(upload_id): info.to_json()}
        if not await self._cache.set_many_shared(stored, self._ttl_s):
            raise UploadStoreUnavailable()
        return info

    async def _get(self, key: str) -> bytes | None:
        """The stored value; ``UploadStoreUnavailable`` rather than None while the store does not answer."""
        try:
            return await self._cache.get_shared(key)
        except SharedStoreUnavailable:
            raise UploadStoreUnavailable() from None

    async def info(self, upload_id: str) -> UploadInfo | None:
        raw = await self._get(_meta_key(upload_id))
        if raw is None:
            return None
        info = UploadInfo.from_json(raw, clock=self._clock)
        return None if info.expired() else info

    async def data(self, upload_id: str) -> bytes | None:
        return await self._get(_key(upload_id))
