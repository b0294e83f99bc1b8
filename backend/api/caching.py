"""HTTP caching: strong ETags, Cache-Control and 304 Not Modified for every atlas- and upload-derived response.

One mechanism for every route (docs/backend.md#http-caching):

- A cache *dependency* of the route (``AtlasCache``, ``ServedAtlasesCache``, ... here, or the image and
  upload routes' own) works out the response's ``CachePolicy`` from what the body derives from (the
  atlas revisions, the upload id, the address) before the handler runs. It answers ``If-None-Match``
  right there (``NotModified``), so a 304 costs no rendering, analysis or JSON.
- ``CachedRoute`` (every router's ``route_class``) puts the policy's ``ETag`` and ``Cache-Control`` on
  the route's 200 responses, and turns a 200 into a 304 when ``If-None-Match`` matches after all (``*``,
  or an ETag hashed from the body). GET routes without a policy (health, progress) are sent
  ``no-store``; errors are never given an ETag.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

import backend
from backend.api.deps import AtlasDep, PinnedRevision, ServicesDep
from backend.services.container import Services
from qkatlas.atlas import Atlas

#: The address names the atlas revision (``?v=``): its body never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Any cache may keep it, but must ask again (cheap: a 304) before using it, since the atlas may be rebuilt.
REVALIDATE = "public, no-cache"
#: Not derived from an atlas (health, progress): never stored.
NO_STORE = "no-store"
#: Upload-derived and not pinned to a revision: the uploader's browser only, asking again each time.
PRIVATE_REVALIDATE = "private, no-cache"


def private_max_age(seconds_left: int) -> str:
    """Upload-derived and pinned: the uploader's browser only, and never past the upload's expiry."""
    return f"private, max-age={max(0, seconds_left)}"


@dataclass(frozen=True)
class CachePolicy:
    """How a 200 response is cached: ``etag`` (quoted, strong; None = the hash of the body) and ``cache_control``."""

    cache_control: str
    etag: str | None


def strong_etag(*parts: str) -> str:
    """A strong ETag naming everything a body is derived from (and the service version that shaped it)."""
    digest = hashlib.sha256("\x1f".join((backend.__version__, *parts)).encode()).hexdigest()[:32]
    return f'"{digest}"'


def body_etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


_ENTITY_TAG = re.compile(r'(?:\s*,)*\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def if_none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match: header`` matches ``etag`` (RFC 9110 §13.1.2: ``*`` or a list of entity tags
    compared weakly, i.e. ``W/`` ignored). A malformed header matches nothing."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    position, text = 0, header.strip()
    while position < len(text):
        found = _ENTITY_TAG.match(text, position)
        if found is None:
            return False
        if f'"{found.group(1)}"' == opaque:
            return True
        position = found.end()
    return False


def _if_none_match_header(request: Request) -> str | None:
    values = request.headers.getlist("if-none-match")
    return ", ".join(values) if values else None


def request_identity(request: Request) -> str:
    """The request's path and its query parameters, sorted: what picks the body among an atlas's."""
    query = sorted(request.query_params.multi_items())
    return f"{request.url.path}?{'&'.join(f'{name}={value}' for name, value in query)}"


def atlas_identity(atlas: Atlas) -> str:
    return f"atlas {atlas.slug} {atlas.revision}"


class NotModified(Exception):
    """Raised by a cache dependency when the client's copy is current: answered 304 by ``CachedRoute``."""

    def __init__(self, policy: CachePolicy) -> None:
        super().__init__("not modified")
        self.policy = policy


class _PolicySlot:
    """The request's policy, kept on ``request.state`` under this object's attribute name only."""

    name = "qkatlas_cache_policy"

    def get(self, request: Request) -> CachePolicy | None:
        policy = getattr(request.state, self.name, None)
        return policy if isinstance(policy, CachePolicy) else None

    def set(self, request: Request, policy: CachePolicy) -> None:
        setattr(request.state, self.name, policy)


_SLOT = _PolicySlot()


def use_policy(request: Request, policy: CachePolicy) -> CachePolicy:
    """Make ``policy`` the request's, answering 304 now when the client holds the same ETag.

    Called by the cache dependencies before the handler runs; a handler whose body came from other
    inputs after all (an atlas replaced mid-request) calls ``replace_policy``, without the 304 check."""
    _SLOT.set(request, policy)
    if (
        policy.etag is not None
        and not _matches_only_star(request)
        and if_none_match(_if_none_match_header(request), policy.etag)
    ):
        raise NotModified(policy)
    return policy


def _matches_only_star(request: Request) -> bool:
    """``*`` asks whether the resource exists, which only the handler knows: left to ``CachedRoute``."""
    header = _if_none_match_header(request)
    return header is not None and header.strip() == "*"


def replace_policy(request: Request, policy: CachePolicy) -> None:
    """The body was derived from other inputs than the cache dependency saw (an atlas replaced mid-request)."""
    _SLOT.set(request, policy)


def atlas_policy(request: Request, atlases: Iterable[Atlas], *, pinned: bool, extra: Sequence[str] = ()) -> CachePolicy:
    """The policy of a body derived from ``atlases`` (their revisions), the address and ``extra`` inputs."""
    parts = sorted(atlas_identity(atlas) for atlas in atlases)
    return CachePolicy(
        cache_control=IMMUTABLE if pinned else REVALIDATE,
        etag=strong_etag(*parts, *extra, request_identity(request)),
    )


def _not_modified(policy: CachePolicy, etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": policy.cache_control})


def finish(request: Request, response: Response) -> Response:
    """Headers of a route's response; 304 when the client's copy matches after all."""
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    policy = _SLOT.get(request)
    if policy is None:
        response.headers["Cache-Control"] = NO_STORE
        return response
    etag = policy.etag if policy.etag is not None else body_etag(bytes(response.body))
    if if_none_match(_if_none_match_header(request), etag):
        return _not_modified(policy, etag)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = policy.cache_control
    return response


class CachedRoute(APIRoute):
    """Every API route: its cache dependency's policy on 200 responses, 304s, ``no-store`` without one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def cached(request: Request) -> Response:
            try:
                response = await handler(request)
            except NotModified as not_modified:
                policy = not_modified.policy
                assert policy.etag is not None
                return _not_modified(policy, policy.etag)
            return finish(request, response)

        return cached


# Dependencies: one per kind of response, declared by each cached route.


async def atlas_cache(request: Request, atlas: AtlasDep, v: PinnedRevision) -> CachePolicy:
    """A body derived from one atlas and the address; ``?v=`` pins it (immutable)."""
    return use_policy(request, atlas_policy(request, [atlas], pinned=v is not None))


AtlasCache = Annotated[CachePolicy, Depends(atlas_cache)]


def o3_identity(services: Services, atlas: Atlas) -> str:
    """The version of the atlas's odd-one-out file, which ``precompute o3`` may add without a rebuild."""
    return f"o3 {atlas.slug} {services.o3.version(atlas)}"


async def atlas_o3_cache(request: Request, atlas: AtlasDep, services: ServicesDep) -> CachePolicy:
    """A body derived from one atlas and its odd-one-out results (never immutable: they may be added later)."""
    return use_policy(request, atlas_policy(request, [atlas], pinned=False, extra=[o3_identity(services, atlas)]))


AtlasO3Cache = Annotated[CachePolicy, Depends(atlas_o3_cache)]


async def served_atlases(services: ServicesDep) -> list[Atlas]:
    """The atlases served now, read once per request (by the handler and its cache policy alike)."""
    return services.atlases.atlases


ServedAtlases = Annotated[list[Atlas], Depends(served_atlases)]


async def served_atlases_cache(request: Request, atlases: ServedAtlases) -> CachePolicy:
    """A body derived from every served atlas (the set of their revisions) and the address."""
    return use_policy(request, atlas_policy(request, atlases, pinned=False))


ServedAtlasesCache = Annotated[CachePolicy, Depends(served_atlases_cache)]


async def served_atlases_o3_cache(request: Request, atlases: ServedAtlases, services: ServicesDep) -> CachePolicy:
    """``GET /api/models``: every served atlas and whether it has odd-one-out results."""
    o3 = [o3_identity(services, atlas) for atlas in sorted(atlases, key=lambda atlas: atlas.slug)]
    return use_policy(request, atlas_policy(request, atlases, pinned=False, extra=o3))


ServedAtlasesO3Cache = Annotated[CachePolicy, Depends(served_atlases_o3_cache)]
