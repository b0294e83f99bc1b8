"""Link previews and security headers, as the backend serves the dashboard: every page address gets its own
title, description, Open Graph and Twitter-card tags in the app page (read without JavaScript), each naming
a 1200 × 630 PNG preview pinned to the atlas revision; every response carries the security headers, and
only embed addresses may be framed by other sites. (nginx: tests/integration/test_compose.py.)"""

from __future__ import annotations

import io
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

import backend.api.routes.pages as pages_routes
from backend.services.page_meta import HEAD_PLACEHOLDER
from qkatlas.atlas import Atlas
from qkatlas.atlas import format as fmt
from tests.helpers.backend import AppFactory
from tests.integration.backend.test_http_caching import _publish_rebuild

ORIGIN = "http://testserver"
UPLOAD = "0123456789abcdef0123456789abcdef"
APP_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)
EMBED_POLICY = APP_POLICY.replace("frame-ancestors 'self'", "frame-ancestors *")


class _Head(HTMLParser):
    """The ``<title>`` and ``<meta>`` tags of a page, as a link unfurler reads them (no JavaScript)."""

    def __init__(self) -> None:
        super().__init__()
        self.title: str | None = None
        self.meta: dict[str, str] = {}
        self.tags: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "title":
            self._in_title = True
        name = values.get("property") or values.get("name")
        if tag == "meta" and name is not None:
            assert name not in self.meta, f"{name} twice"
            self.meta[name] = values.get("content") or ""

    def handle_endtag(self, tag: str) -> None:
        self._in_title = self._in_title and tag != "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data


def read_head(page: str) -> _Head:
    parser = _Head()
    parser.feed(page)
    return parser


def shell(dist: Path) -> None:
    """A stand-in for the built dashboard with frontend/index.html's head placeholder."""
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        f'<!doctype html><html><head><meta charset="UTF-8" />{HEAD_PLACEHOLDER}</head>'
        "<body><div id=root></div></body></html>"
    )


@pytest.fixture
def dashboard(make_client: AppFactory, tmp_path: Path) -> TestClient:
    shell(tmp_path / "dist")
    return make_client(frontend_dist=tmp_path / "dist")


def page_cases(planted: Atlas, tiny: Atlas) -> list[tuple[str, int, str]]:
    """(address, status, the dashboard's document title): the titles each route's ``useDocumentTitle`` sets
    (frontend/src/routes/*.tsx), written out by hand."""
    assert planted.statistics is not None
    label, p, model = planted.statistics.classes[0], planted.slug, planted.model_id
    return [
        ("/", 200, "qkatlas"),
        (f"/m/{p}", 200, f"{model} · qkatlas"),
        (f"/m/{tiny.model_id}", 200, f"{tiny.model_id} · qkatlas"),
        (f"/m/{p}/modes?layer=1", 200, f"Mode index · {model} · qkatlas"),
        (f"/m/{p}/L1/H0", 200, f"L1 H0 · {model} · qkatlas"),
        (f"/m/{p}/L1/H0/M2", 200, f"L1 H0 M2 pos · {model} · qkatlas"),
        (f"/m/{p}/L1/H0/M2?sign=neg&basis=exact", 200, f"L1 H0 M2 neg · {model} · qkatlas"),
        (f"/m/{tiny.slug}/L0/H1/M0?sign=sideways", 200, f"L0 H1 M0 pos · {tiny.model_id} · qkatlas"),
        ("/classes", 200, "Classes · qkatlas"),
        (f"/classes/{label}", 200, f"Class {label} · qkatlas"),
        ("/search?q=+red+", 200, "Search: red · qkatlas"),
        ("/search", 200, "Search · qkatlas"),
        ("/upload", 200, "Upload an image · qkatlas"),
        (f"/upload/{UPLOAD}?model={p}&layer=0&head=0", 200, "Upload an image · qkatlas"),
        ("/nowhere", 404, "Page not found · qkatlas"),
        (f"/m/{p}/L9/H0/M0", 404, "Page not found · qkatlas"),
    ]


def _preview(client: TestClient, url: str) -> Image.Image:
    assert url.startswith(f"{ORIGIN}/api/"), url
    response = client.get(url.removeprefix(ORIGIN))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png", url
    image = Image.open(io.BytesIO(response.content))
    image.verify()
    return Image.open(io.BytesIO(response.content))


def test_every_page_has_its_own_title_description_and_preview(dashboard: TestClient, atlases: dict[str, Atlas]) -> None:
    planted, tiny = atlases["planted"], atlases["tiny"]
    images: set[str] = set()
    for address, status, title in page_cases(planted, tiny):
        response = dashboard.get(address)
        assert (address, response.status_code) == (address, status)
        assert (
            response.headers["content-type"].startswith("text/html") and response.headers["cache-control"] == "no-cache"
        )
        head = read_head(response.text)
        assert head.title == title
        name = title.removesuffix(" · qkatlas")
        meta = head.meta
        assert meta["og:title"] == meta["twitter:title"] == name, address
        assert meta["og:site_name"] == "qkatlas" and meta["og:type"] == "website"
        assert meta["twitter:card"] == "summary_large_image"
        assert meta["og:url"] == f"{ORIGIN}{address}", address
        assert meta["description"] == meta["og:description"] == meta["twitter:description"] != ""
        assert meta["og:image"] == meta["twitter:image"] and meta["og:image:alt"] == meta["twitter:image:alt"] != ""
        assert (meta["og:image:width"], meta["og:image:height"], meta["og:image:type"]) == ("1200", "630", "image/png")
        if meta["og:image"] not in images:
            images.add(meta["og:image"])
            assert _preview(dashboard, meta["og:image"]).size == (1200, 630)
    # A mode, a head, a class and the site each have their own preview.
    assert sum("/modes/" in url for url in images) == 3 and sum("/classes/" in url for url in images) == 1


def test_descriptions_say_what_the_page_shows(dashboard: TestClient, atlases: dict[str, Atlas]) -> None:
    planted = atlases["planted"]
    assert planted.statistics is not None
    sigma = planted.sigma(1, 0)
    mode = read_head(dashboard.get(f"/m/{planted.slug}/L1/H0/M2?sign=neg").text).meta
    assert f"σ = {sigma[2]:.3f} ({100 * sigma[2] / sigma.sum():.1f} % of the head's Σσ)" in mode["description"]
    # A signed mode with a most selective class: named with its selectivity (2 decimals, as the dashboard).
    axis = planted.basis_axis(planted.bases[0])
    column = next(c for c in range(64) if planted.statistics.top_classes(axis, planted.statistics.signed_mode(c)))
    signed = planted.statistics.signed_mode(column)
    best = planted.statistics.top_classes(axis, signed)[0]
    address = f"/m/{planted.slug}/L{signed.layer}/H{signed.head}/M{signed.mode}?sign={signed.sign.value}"
    described = read_head(dashboard.get(address).text).meta["description"]
    assert f"top class {best.label} (selectivity {best.selectivity:.2f})" in described
    head = read_head(dashboard.get(f"/m/{planted.slug}/L1/H0").text).meta
    active = int((sigma > 0).sum())
    assert f"{active} active modes of {len(sigma)}" in head["description"]


def test_nothing_in_an_address_can_inject_html(dashboard: TestClient) -> None:
    nasty = "<script>alert(1)</script>\"&'><meta name=x"
    response = dashboard.get("/search", params={"q": nasty})
    head = read_head(response.text)
    assert head.title == f"Search: {nasty} · qkatlas"
    assert head.meta["og:title"] == f"Search: {nasty}"
    assert "<script>" not in response.text and "x" not in head.meta
    assert head.tags.count("meta") == 1 + 16  # the shell's charset and the preview tags, nothing more
    unknown = dashboard.get("/classes/" + "%3Cb%3E%22%26")
    assert unknown.status_code == 404 and "<b>" not in unknown.text


def test_uploads_get_generic_tags_only(dashboard: TestClient, atlases: dict[str, Atlas]) -> None:
    site = read_head(dashboard.get("/").text).meta["og:image"]
    upload = read_head(dashboard.get(f"/upload/{UPLOAD}?model={atlases['planted'].slug}").text).meta
    assert upload["og:image"] == site
    assert UPLOAD not in upload["description"] + upload["og:title"] + upload["og:image:alt"]


def test_previews_are_pinned_to_the_revision_and_a_rebuild_changes_them(
    make_client: AppFactory, atlas_root: Path, atlases: dict[str, Atlas], tmp_path: Path
) -> None:
    root = tmp_path / "atlases"
    shutil.copytree(atlas_root, root, ignore=shutil.ignore_patterns(fmt.PARTIAL_DIR))
    shell(tmp_path / "dist")
    client = make_client(atlas_dir=root, atlas_poll_s=0, frontend_dist=tmp_path / "dist")
    planted = atlases["planted"]
    assert planted.statistics is not None
    addresses = [
        f"/m/{planted.slug}/L0/H1/M0",
        f"/m/{planted.slug}/L0/H1",
        f"/classes/{planted.statistics.classes[1]}",
        "/",
    ]
    before = {address: read_head(client.get(address).text).meta["og:image"] for address in addresses}
    for url in before.values():
        response = client.get(url.removeprefix(ORIGIN))
        assert (
            response.status_code == 200 and response.headers["cache-control"] == "public, max-age=31536000, immutable"
        )
        again = client.get(url.removeprefix(ORIGIN), headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304

    _publish_rebuild(root / planted.path.name, "2100-01-01T00:00:00+00:00")
    client.app.state.services.atlases.refresh()  # type: ignore[attr-defined]
    for address, url in before.items():
        now = read_head(client.get(address).text).meta["og:image"]
        assert now != url, address
        assert client.get(now.removeprefix(ORIGIN)).status_code == 200
        # The old address named the old revision: it no longer answers.
        assert client.get(url.removeprefix(ORIGIN)).status_code == 404, url


def test_nginx_learns_the_page_status_and_type_from_the_page_shell(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    slug = atlases["planted"].slug
    for path, status, target in ((f"m/{slug}/L0/H0", 200, "@app_page"), ("nowhere", 404, "@page_not_found")):
        response = client.get(f"/api/page-shell/{path}")
        assert response.status_code == status and response.headers["x-accel-redirect"] == target
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"


def test_every_response_carries_the_security_headers(dashboard: TestClient, atlases: dict[str, Atlas]) -> None:
    slug = atlases["planted"].slug
    framed = {
        f"/m/{slug}/L0/H0/M0?embed=1": (200, EMBED_POLICY),
        f"/m/{slug}/L0/H0?sign=neg&embed=1": (200, EMBED_POLICY),
        "/lists/0123?embed=1": (404, EMBED_POLICY),  # an embed address that names nothing still may be framed
        f"/m/{slug}/L0/H0/M0": (200, APP_POLICY),
        f"/m/{slug}/L0/H0/M0?embed=0": (200, APP_POLICY),
        "/classes?embed=1": (200, APP_POLICY),  # not an embeddable page
        "/": (200, APP_POLICY),
        "/nowhere": (404, APP_POLICY),
        "/api/models": (200, APP_POLICY),
        "/api/models/nope": (404, APP_POLICY),
        f"/api/models/{slug}/layers/0/heads/0/modes/0/preview.png": (200, APP_POLICY),
        "/api/search": (422, APP_POLICY),
        "/api/openapi.json": (200, APP_POLICY),
    }
    for address, (status, policy) in framed.items():
        response = dashboard.get(address)
        assert (address, response.status_code) == (address, status)
        assert response.headers["content-security-policy"] == policy, address
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "x-frame-options" not in response.headers
    for docs in ("/api/docs", "/api/docs/assets/swagger-ui.css"):
        policy = dashboard.get(docs).headers["content-security-policy"]
        assert "frame-ancestors 'self'" in policy and "script-src 'self' 'sha256-" in policy
    upload = dashboard.post("/api/uploads", files={"file": ("x.png", b"not a png", "image/png")})
    assert upload.status_code >= 400 and upload.headers["content-security-policy"] == APP_POLICY


def test_an_unhandled_error_carries_the_security_headers_too(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(pages_routes, "describe_address", broken)
    response = client.get("/api/page-head/m/x/L0/H0")
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    assert response.headers["content-security-policy"] == APP_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
