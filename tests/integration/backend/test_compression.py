"""gzip for text answers (JSON, JS, CSS, SVG, HTML), never for PNG/JPEG, with ETags and 304s that stay right."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from tests.helpers.backend import AppFactory

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}
MODE = "layers/0/heads/0/modes/0"


def test_json_is_gzipped_for_a_client_that_accepts_it_with_a_weak_etag(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    url = f"/api/models/{atlases['planted'].slug}"
    plain = client.get(url, headers=PLAIN)
    assert "content-encoding" not in plain.headers and len(plain.content) > 500
    strong = plain.headers["etag"]
    assert not strong.startswith("W/")
    compressed = client.get(url, headers=GZIP)
    assert compressed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in compressed.headers["vary"].lower()
    assert compressed.content == plain.content  # decoded by the client
    assert int(compressed.headers["content-length"]) < len(plain.content)
    assert compressed.headers["etag"] == f"W/{strong}"
    # Either copy revalidates, and the 304 names the ETag of the copy the client holds.
    for held, headers in ((f"W/{strong}", GZIP), (strong, PLAIN)):
        not_modified = client.get(url, headers={**headers, "If-None-Match": held})
        assert not_modified.status_code == 304 and not_modified.headers["etag"] == held
    changed = client.get(url, headers={**GZIP, "If-None-Match": 'W/"elsewhere"'})
    assert changed.status_code == 200 and changed.content == plain.content


def test_the_gzip_body_is_the_plain_body_compressed(client: TestClient, atlases: dict[str, Atlas]) -> None:
    url = f"/api/models/{atlases['planted'].slug}"
    plain = client.get(url, headers=PLAIN).content
    with client.stream("GET", url, headers=GZIP) as response:
        sent = b"".join(response.iter_raw())
    assert gzip.decompress(sent) == plain and len(sent) < len(plain)


@pytest.mark.parametrize("kind", ["overlay", "thumbnail"])
def test_png_and_jpeg_are_sent_as_they_are(client: TestClient, atlases: dict[str, Atlas], kind: str) -> None:
    atlas = atlases["planted"]
    url = f"/api/models/{atlas.slug}/{MODE}/top/0/overlay.png" if kind == "overlay" else f"/api/images/{atlas.slug}~0"
    response = client.get(url, headers=GZIP)
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/")
    assert "content-encoding" not in response.headers and not response.headers["etag"].startswith("W/")
    assert int(response.headers["content-length"]) == len(response.content)


def test_small_answers_are_sent_plain(client: TestClient) -> None:
    response = client.get("/api/health", headers=GZIP)
    assert len(response.content) < 500 and "content-encoding" not in response.headers


def test_the_dashboards_files_are_gzipped(tmp_path: Path, make_client: AppFactory) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    files = {
        "index.html": "<!doctype html><title>qkatlas</title>" + "<p>text</p>" * 100,
        "assets/app.js": "console.log('qkatlas');\n" * 100,
        "assets/app.css": "body { margin: 0; }\n" * 100,
        "favicon.svg": '<svg xmlns="http://www.w3.org/2000/svg">' + "<rect/>" * 100 + "</svg>",
    }
    for name, text in files.items():
        (dist / name).write_text(text)
    client = make_client(frontend_dist=dist)
    for name, text in files.items():
        response = client.get(f"/{name}", headers=GZIP)
        assert response.status_code == 200 and response.text == text, name
        assert response.headers["content-encoding"] == "gzip", name
