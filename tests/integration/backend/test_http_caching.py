"""HTTP caching: every atlas- and upload-derived GET has a strong ETag (weak for a gzip body), Cache-Control
and 304s; a rebuilt atlas (or new odd-one-out results) changes the ETags; upload responses never outlive
the upload."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import backend.services.mode_views as mode_views
from backend.api.caching import if_none_match
from backend.core.config import Settings
from backend.main import create_app
from qkatlas.atlas import Atlas, AtlasWriter
from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import read_manifest
from tests.helpers.backend import AppFactory, copy_atlases_with_o3
from tests.helpers.clock import FakeClock

MODE = "layers/0/heads/0/modes/0"
#: GET routes that are not derived from an atlas or an upload: never stored.
#: Uncached GET routes, with an address answering 200.
UNCACHED = {
    "/api/health": "/api/health",
    "/api/progress": "/api/progress",
    "/api/pages/{path}": "/api/pages/classes",
    "/api/page-head/{path}": "/api/page-head/classes",
}
#: Uncached routes answering with the app page's policy (nginx serves the page with it).
APP_PAGE_ROUTES = {"/api/pages/{path}", "/api/page-head/{path}"}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"
#: Routes whose body also says whether the atlas has odd-one-out results, which may be added without a
#: rebuild: revalidated even when the address names the revision.
O3_DEPENDENT = {"/api/models/{model}", "/api/models/{model}/o3"}
#: Routes whose body also derives from the other served atlases: a pinned address still revalidates.
SERVED_DEPENDENT = {"/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/similar"}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory, atlases: dict[str, Atlas]) -> Path:
    """The session's atlases in a root of their own, the planted one with odd-one-out results."""
    return copy_atlases_with_o3(tmp_path_factory, atlases, "caching-atlases")


def _client(atlas_dir: Path, **overrides: Any) -> TestClient:
    settings = Settings(
        **{"atlas_dir": atlas_dir, "redis_url": None, "frontend_dist": None, "device": "cpu", **overrides}
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def shared(cache_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # A clock that stands still: an upload's answer counts its seconds left, which a real clock could
    # change between two requests that must get the same body.
    lists_db = tmp_path_factory.mktemp("caching-lists") / "lists.sqlite3"
    with _client(cache_root, atlas_poll_s=0, clock=FakeClock(), lists_db=lists_db) as client:
        yield client


def _upload(client: TestClient, planted_image_dir: Path) -> str:
    data = next(planted_image_dir.glob("red_blue/*.png")).read_bytes()
    response = client.post("/api/uploads", files={"file": ("planted.png", data, "image/png")})
    assert response.status_code == 201
    upload_id: str = response.json()["id"]
    return upload_id


@pytest.fixture(scope="module")
def upload_id(shared: TestClient, planted_image_dir: Path) -> str:
    return _upload(shared, planted_image_dir)


def _list(client: TestClient, atlases: dict[str, Atlas]) -> str:
    """A shared list of a planted mode (so a rebuild of the planted atlas changes what it says)."""
    mode = {"model": atlases["planted"].slug, "layer": 0, "head": 0, "mode": 0, "note": "caching"}
    response = client.post("/api/lists", json={"title": "Caching", "modes": [mode]})
    assert response.status_code in (200, 201)
    list_id: str = response.json()["id"]
    return list_id


@pytest.fixture(scope="module")
def list_id(shared: TestClient, atlases: dict[str, Atlas]) -> str:
    return _list(shared, atlases)


#: An address answering 200 for every cached GET route of the API, by route path ({planted}, {tiny}:
#: the atlases' slugs; {upload}: an upload's id; {list}: a shared list's id).
EXAMPLES = {
    "/api/models": "/api/models",
    "/api/models/{model}": "/api/models/{planted}",
    "/api/models/{model}/o3": "/api/models/{planted}/o3",
    "/api/models/{model}/layers/{layer}/heads/{head}": "/api/models/{planted}/layers/0/heads/0?basis=faithful",
    "/api/models/{model}/modes": "/api/models/{planted}/modes?sort=sigma&limit=5",
    "/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}": f"/api/models/{{planted}}/{MODE}?sign=neg",
    "/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/samples": (
        f"/api/models/{{planted}}/{MODE}/samples?sign=neg"
    ),
    "/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/similar": (
        f"/api/models/{{planted}}/{MODE}/similar?sign=neg"
    ),
    "/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/top/{rank}/overlay.png": (
        f"/api/models/{{planted}}/{MODE}/top/0/overlay.png?blend=0.25"
    ),
    "/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/top/{rank}/maps": (
        f"/api/models/{{planted}}/{MODE}/top/1/maps"
    ),
    "/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/figure.{file_format}": (
        f"/api/models/{{planted}}/{MODE}/figure.svg?sign=neg&palette=orange_blue"
    ),
    "/api/models/{model}/layers/{layer}/heads/{head}/figure.{file_format}": (
        "/api/models/{planted}/layers/0/heads/0/figure.png"
    ),
    "/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/preview.png": (
        f"/api/models/{{planted}}/{MODE}/preview.png?sign=neg"
    ),
    "/api/models/{model}/layers/{layer}/heads/{head}/preview.png": "/api/models/{planted}/layers/0/heads/0/preview.png",
    "/api/classes/{label}/preview.png": "/api/classes/red_blue/preview.png",
    "/api/preview.png": "/api/preview.png",
    "/api/images/{image_id}": "/api/images/{planted}~0",
    "/api/models/{model}/images/{image_id}/maps": "/api/models/{planted}/images/{planted}~0/maps?layer=0&head=0&mode=1",
    "/api/models/{model}/images/{image_id}/overlay.png": (
        "/api/models/{planted}/images/{planted}~0/overlay.png?layer=0&head=0&mode=1&sign=neg"
    ),
    "/api/search": "/api/search?q=red",
    "/api/classes": "/api/classes",
    "/api/classes/{label}": "/api/classes/red_blue",
    "/api/citation": "/api/citation",
    "/api/uploads/{upload_id}": "/api/uploads/{upload}",
    "/api/uploads/{upload_id}/models/{model}/image.png": "/api/uploads/{upload}/models/{planted}/image.png",
    "/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}": (
        "/api/uploads/{upload}/models/{planted}/layers/0/heads/0"
    ),
    "/api/uploads/{upload_id}/models/{model}/modes": "/api/uploads/{upload}/models/{planted}/modes?limit=3",
    "/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/maps": (
        f"/api/uploads/{{upload}}/models/{{planted}}/{MODE}/maps"
    ),
    "/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/standing": (
        f"/api/uploads/{{upload}}/models/{{planted}}/{MODE}/standing"
    ),
    "/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/overlay.png": (
        f"/api/uploads/{{upload}}/models/{{planted}}/{MODE}/overlay.png"
    ),
    "/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/attention": (
        "/api/uploads/{upload}/models/{tiny}/layers/1/heads/1/attention?query_patch=5"
    ),
    "/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/ablation": (
        "/api/uploads/{upload}/models/{planted}/layers/0/heads/0/ablation?remove=0&query_patch=5"
    ),
    "/api/models/{model}/images/{image_id}/layers/{layer}/heads/{head}/ablation": (
        "/api/models/{planted}/images/{planted}~0/layers/0/heads/0/ablation?keep_top=1&query_patch=5"
    ),
    # Immutable, but whether its atlases were rebuilt since is not: revalidated, ETag = the body's hash.
    "/api/lists/{list_id}": "/api/lists/{list}",
}
ROUTES = sorted(EXAMPLES)


def examples(atlases: dict[str, Atlas], upload_id: str, list_id: str) -> dict[str, str]:
    names = {"planted": atlases["planted"].slug, "tiny": atlases["tiny"].slug, "upload": upload_id, "list": list_id}
    return {route: url.format(**names) for route, url in EXAMPLES.items()}


def _with(url: str, **params: str) -> str:
    extra = "&".join(f"{name}={value}" for name, value in params.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def test_every_get_route_is_cached_or_listed_as_uncached(shared: TestClient) -> None:
    paths: dict[str, dict[str, object]] = shared.get("/api/openapi.json").json()["paths"]
    routes = {path for path, operations in paths.items() if "get" in operations}
    assert routes == set(ROUTES) | set(UNCACHED)


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
@pytest.mark.parametrize("route", ROUTES)
def test_etag_and_304_round_trip(
    route: str, encoding: str, shared: TestClient, atlases: dict[str, Atlas], upload_id: str, list_id: str
) -> None:
    url = examples(atlases, upload_id, list_id)[route]
    accept = {"Accept-Encoding": encoding}
    first = shared.get(url, headers=accept)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    compressed = first.headers.get("content-encoding") == "gzip"
    # Images are sent as they are, except SVG (text).
    image = first.headers["content-type"].startswith("image/") and "svg" not in first.headers["content-type"]
    assert compressed == (encoding == "gzip" and not image and len(first.content) >= 500)
    # A gzip body is other bytes than the plain one: its ETag is the strong one made weak (backend.api.compression).
    strong = etag.removeprefix("W/") if compressed else etag
    assert etag == (f"W/{strong}" if compressed else strong)
    assert strong.startswith('"') and strong.endswith('"') and len(strong) > 2
    cache_control = first.headers["cache-control"]
    upload = route.startswith("/api/uploads")
    assert cache_control == ("private, no-cache" if upload else REVALIDATE)
    again = shared.get(url, headers=accept)
    assert again.headers["etag"] == etag and again.content == first.content
    for header in (etag, strong, f"W/{strong}", f'"elsewhere", {etag}', f'W/"x",{etag} ', "*"):
        not_modified = shared.get(url, headers={**accept, "If-None-Match": header})
        assert not_modified.status_code == 304, header
        assert not_modified.content == b""
        # The 304 names the ETag of the copy the client holds: the weak one when it sent that.
        held = f"W/{strong}" if f"W/{strong}" in header else strong
        assert not_modified.headers["etag"] == held and not_modified.headers["cache-control"] == cache_control
    for header in ('"elsewhere"', strong[:-2] + '"', "garbage"):
        other = shared.get(url, headers={**accept, "If-None-Match": header})
        assert other.status_code == 200 and other.content == first.content and other.headers["etag"] == etag


@pytest.mark.parametrize("route", [r for r in ROUTES if "{model}" in r or "{image_id}" in r])
def test_addresses_pinned_to_the_revision(
    route: str, shared: TestClient, atlases: dict[str, Atlas], upload_id: str, list_id: str
) -> None:
    url = examples(atlases, upload_id, list_id)[route]
    revision = (atlases["tiny"] if route.endswith("/attention") else atlases["planted"]).revision
    pinned = shared.get(_with(url, v=revision))
    assert pinned.status_code == 200 and pinned.content == shared.get(url).content
    cache_control = pinned.headers["cache-control"]
    if route.startswith("/api/uploads"):
        assert cache_control.startswith("private, max-age=")
    else:
        assert cache_control == (REVALIDATE if route in O3_DEPENDENT | SERVED_DEPENDENT else IMMUTABLE)
    again = shared.get(_with(url, v=revision), headers={"If-None-Match": pinned.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == cache_control


def test_errors_and_uncached_routes_carry_no_etag(shared: TestClient, atlases: dict[str, Atlas]) -> None:
    for route, url in UNCACHED.items():
        response = shared.get(url, headers={"If-None-Match": "*"})
        assert response.status_code == 200 and "etag" not in response.headers
        # The page check's policy is the app page's, which nginx answers the address with.
        assert response.headers["cache-control"] == ("no-cache" if route in APP_PAGE_ROUTES else "no-store")
    model = f"/api/models/{atlases['planted'].slug}"
    for url in (f"{model}/{MODE}/top/99/overlay.png", f"{model}/layers/9/heads/0", "/api/models/nope", f"{model}/o3x"):
        missing = shared.get(url, headers={"If-None-Match": "*"})
        assert missing.status_code == 404 and "etag" not in missing.headers


def test_etags_agree_across_replicas_and_304_skips_the_work(
    cache_root: Path, shared: TestClient, atlases: dict[str, Atlas], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"/api/models/{atlases['planted'].slug}/{MODE}/top/1/overlay.png?blend=0.75"
    etag = shared.get(url).headers["etag"]

    def no_rendering(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("rendered for a 304")

    monkeypatch.setattr(mode_views, "overlay_png", no_rendering)
    with _client(cache_root, atlas_poll_s=0) as replica:  # its overlay cache is empty
        response = replica.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 304 and response.headers["etag"] == etag


def _publish_rebuild(atlas_dir: Path, finished: str) -> None:
    """Replace the atlas at ``atlas_dir`` with a rebuild of it (same arrays, a new run record)."""
    partial = atlas_dir.parent / fmt.PARTIAL_DIR / atlas_dir.name
    shutil.copytree(atlas_dir, partial)
    manifest = read_manifest(json.loads((partial / fmt.MANIFEST).read_text()))
    manifest = manifest.model_copy(update={"run": manifest.run.model_copy(update={"finished": finished})})
    AtlasWriter(partial).publish(manifest, atlas_dir)


def test_a_rebuilt_atlas_changes_the_etags(
    make_client: AppFactory, cache_root: Path, atlases: dict[str, Atlas], planted_image_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "atlases"
    shutil.copytree(cache_root, root, ignore=shutil.ignore_patterns(fmt.PARTIAL_DIR))
    client = make_client(atlas_dir=root, atlas_poll_s=0)
    urls = examples(atlases, _upload(client, planted_image_dir), _list(client, atlases))
    before = {route: client.get(url).headers["etag"] for route, url in urls.items()}
    tiny = f"/api/models/{atlases['tiny'].slug}/{MODE}"
    tiny_before = client.get(tiny).headers["etag"]

    planted = root / atlases["planted"].path.name
    _publish_rebuild(planted, "2100-01-01T00:00:00+00:00")
    new_revision = Atlas.open(planted).revision
    assert new_revision != atlases["planted"].revision
    client.app.state.services.atlases.refresh()  # type: ignore[attr-defined]

    for route, url in urls.items():
        if route.endswith("/attention") or route in ("/api/uploads/{upload_id}", "/api/citation"):
            continue  # derived from the tiny atlas / from the upload only / from CITATION.cff only
        response = client.get(url, headers={"If-None-Match": before[route]})
        assert response.status_code == 200, route
        assert response.headers["etag"] != before[route], route
    # The other atlas was not rebuilt: its addresses keep their ETags.
    assert client.get(tiny, headers={"If-None-Match": tiny_before}).status_code == 304


def test_odd_one_out_results_added_later_change_the_etags(
    make_client: AppFactory, cache_root: Path, atlases: dict[str, Atlas], tmp_path: Path
) -> None:
    root = tmp_path / "atlases"
    shutil.copytree(cache_root, root, ignore=shutil.ignore_patterns(fmt.PARTIAL_DIR))
    o3 = root / atlases["planted"].path.name / fmt.O3
    saved = o3.read_bytes()
    o3.unlink()
    client = make_client(atlas_dir=root, atlas_poll_s=0)
    model = f"/api/models/{atlases['planted'].slug}"
    before = {url: client.get(url).headers["etag"] for url in ("/api/models", model)}
    assert client.get(f"{model}/o3").status_code == 404
    o3.write_bytes(saved)
    for url, etag in before.items():
        response = client.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200 and response.headers["etag"] != etag, url
    assert client.get(f"{model}/o3").status_code == 200


def test_upload_responses_never_outlive_the_upload(
    make_client: AppFactory, clock: FakeClock, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    client = make_client(upload_ttl_s=100, clock=clock)
    upload_id = _upload(client, planted_image_dir)
    urls = {
        r: u for r, u in examples(atlases, upload_id, _list(client, atlases)).items() if r.startswith("/api/uploads/")
    }
    revisions = {
        route: (atlases["tiny"] if route.endswith("/attention") else atlases["planted"]).revision for route in urls
    }

    def max_age(route: str) -> int:
        url = urls[route] if route == "/api/uploads/{upload_id}" else _with(urls[route], v=revisions[route])
        response = client.get(url)
        assert response.status_code == 200
        cache_control = response.headers["cache-control"]
        assert cache_control.startswith("private, ")
        return 0 if cache_control == "private, no-cache" else int(cache_control.removeprefix("private, max-age="))

    assert {route: max_age(route) for route in urls} == {
        route: 0 if route == "/api/uploads/{upload_id}" else 100 for route in urls
    }
    clock.advance(40.5)
    assert all(max_age(route) <= 60 for route in urls)  # 59.5 s left, rounded up
    etag = client.get(urls["/api/uploads/{upload_id}/models/{model}/modes"]).headers["etag"]
    clock.advance(60)
    for url in urls.values():
        gone = client.get(url, headers={"If-None-Match": etag})
        assert gone.status_code == 404 and "etag" not in gone.headers


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ('"a"', True),
        ('W/"a"', True),
        ('"b", "a"', True),
        ('"b",W/"a"', True),
        (' , "b" ,, "a"', True),
        ("*", True),
        ('"b"', False),
        ('"a', False),
        ("a", False),
        ('"A"', False),
        ('"a,b"', False),
        ("", False),
    ],
)
def test_if_none_match_uses_weak_comparison(header: str | None, matches: bool) -> None:
    assert if_none_match(header, '"a"') is matches
    assert if_none_match(header, 'W/"a"') is matches
