"""Uploads: the bad-input corpus, the analysis endpoints, single flight, TTL and rate limits."""

from __future__ import annotations

import asyncio
import io
import re
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import backend.services.analysis.analyzers as analyzers_service
from backend.core.config import Settings
from backend.main import create_app
from qkatlas.atlas import Atlas
from qkatlas.images import decode_image, to_model_input
from qkatlas.models import ModelSource
from tests.helpers.backend import AppFactory, CountingAnalyzer
from tests.helpers.clock import FakeClock
from tests.helpers.overlays import outlined_pixels

if TYPE_CHECKING:
    import httpx2  # what starlette's TestClient is built on


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width × height`` 8-bit grey pixels (a bomb when large)."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _photo(size: tuple[int, int] = (96, 64)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return _encode(_photo((60, 30)), "JPEG", exif=exif)


def _animated_gif() -> bytes:
    frames = [Image.new("P", (40, 40), colour) for colour in (10, 200)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


_JPEG = _encode(_photo(), "JPEG", quality=90)

#: (case, file name, bytes, expected status)
BAD_AND_ODD_UPLOADS: list[tuple[str, str, bytes, int]] = [
    ("empty", "empty.jpg", b"", 400),
    ("plain text", "notes.txt", b"just some text\n", 415),
    ("html", "page.html", b"<!doctype html><html><body>hi</body></html>", 415),
    ("svg", "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect/></svg>', 415),
    ("random binary", "blob.bin", bytes(range(256)) * 4, 415),
    ("truncated jpeg", "cut.jpg", _JPEG[: len(_JPEG) // 2], 400),
    ("corrupt png", "bad.png", _png_header_only(10, 10)[:-12] + b"garbage!" + b"\0" * 4, 400),
    ("zero-size png", "zero.png", _png_header_only(0, 10), 400),
    ("decompression bomb png", "bomb.png", _png_header_only(100_000, 100_000), 413),
    ("huge dimensions (strip)", "strip.png", _encode(Image.new("L", (60_000, 2)), "PNG"), 400),
    ("16-bit png", "deep.png", _encode(Image.fromarray(np.full((40, 50), 40_000, np.uint16)), "PNG"), 201),
    ("cmyk jpeg", "print.jpg", _encode(Image.new("CMYK", (50, 40), (0, 120, 200, 10)), "JPEG"), 201),
    ("animated gif", "anim.gif", _animated_gif(), 201),
    ("greyscale png", "grey.png", _encode(Image.new("L", (30, 30), 77), "PNG"), 201),
    ("palette png", "pal.png", _encode(Image.new("P", (30, 30), 3), "PNG"), 201),
    ("alpha png", "alpha.png", _encode(Image.new("RGBA", (30, 30), (255, 0, 0, 0)), "PNG"), 201),
    ("wrong extension", "really-a-png.gif", _encode(_photo(), "PNG"), 201),
    ("jpeg", "photo.jpg", _JPEG, 201),
]


def _upload(
    client: TestClient, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"
) -> httpx2.Response:
    return client.post("/api/uploads", files={"file": (name, data, content_type)})


@pytest.mark.parametrize(
    ("case", "name", "data", "status"), BAD_AND_ODD_UPLOADS, ids=[c[0] for c in BAD_AND_ODD_UPLOADS]
)
def test_upload_corpus_gets_the_expected_status(
    client: TestClient, case: str, name: str, data: bytes, status: int
) -> None:
    response = _upload(client, data, name)
    assert response.status_code == status, (case, response.text)
    body = response.json()
    if status == 201:
        assert len(body["id"]) == 32 and body["n_bytes"] == len(data)
    else:
        assert isinstance(body["detail"], str) and body["detail"]
        assert not re.search(r"(/[\w.-]+){2,}", body["detail"]) and "Traceback" not in body["detail"]


def test_exif_orientation_is_applied(client: TestClient) -> None:
    body = _upload(client, _exif_rotated_jpeg()).json()
    assert (body["width"], body["height"]) == (30, 60)


def test_oversized_files_are_413_before_decoding(make_client: AppFactory) -> None:
    client = make_client(max_upload_bytes=50_000)
    response = _upload(client, b"\xff" * 50_001)
    assert response.status_code == 413 and "too large" in response.json()["detail"]
    big_body = _upload(client, b"\xff" * 200_000)  # over the limit including the multipart envelope
    assert big_body.status_code == 413
    assert _upload(client, _JPEG).status_code == 201


def test_missing_file_field_is_422(client: TestClient) -> None:
    assert client.post("/api/uploads", data={"other": "x"}).status_code == 422


def test_same_content_same_id_and_info(client: TestClient) -> None:
    first, second = _upload(client, _JPEG, "a.jpg").json(), _upload(client, _JPEG, "b.png").json()
    assert first["id"] == second["id"]
    info = client.get(f"/api/uploads/{first['id']}").json()
    assert (info["width"], info["height"]) == (96, 64) and 0 < info["expires_in_s"] <= 86_400


def test_rate_limit_per_client(make_client: AppFactory, clock: FakeClock) -> None:
    client = make_client(upload_rate_limit=3, upload_rate_window_s=60, clock=clock)
    assert [_upload(client, _JPEG).status_code for _ in range(3)] == [201] * 3
    clock.advance(59.9)
    refused = _upload(client, _JPEG)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert client.get("/api/health").status_code == 200  # only uploads are limited
    clock.advance(0.1)  # the next window
    assert _upload(client, _JPEG).status_code == 201


def _planted_upload(client: TestClient, planted_image_dir: Path) -> tuple[str, bytes]:
    data = next(planted_image_dir.glob("red_blue/*.png")).read_bytes()
    return _upload(client, data, "planted.png", "image/png").json()["id"], data


def test_upload_image_as_the_model_sees_it(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    upload_id, data = _planted_upload(client, planted_image_dir)
    atlas = atlases["planted"]
    response = client.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/image.png")
    assert response.status_code == 200 and response.headers["cache-control"].startswith("private")
    seen = np.asarray(Image.open(io.BytesIO(response.content)))
    expected = to_model_input(decode_image(data), atlas.manifest.preprocessing)
    assert np.array_equal(seen, expected.permute(1, 2, 0).numpy())


def test_upload_modes_ranked_by_contribution_find_the_planted_mode(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    upload_id, _ = _planted_upload(client, planted_image_dir)
    atlas = atlases["planted"]
    for basis in ("faithful", "exact"):
        body = client.get(
            f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0", params={"basis": basis}
        ).json()
        modes = body["modes"]
        assert [m["rank"] for m in modes] == list(range(atlas.n_modes))
        assert modes[0]["mode"] == 0 and modes[0]["sign"] == "pos"  # red → blue on a red+blue image
        contributions = [m["contribution"] for m in modes]
        assert contributions == sorted(contributions, reverse=True)
        top = modes[0]
        assert top["contribution"] == pytest.approx(top["sigma"] * max(top["pos_score"], top["neg_score"]), rel=1e-4)
        assert "reconstruction" in body["contribution_rule"]
        assert np.asarray(body["key_salience"]).shape == (atlas.grid, atlas.grid)


def test_upload_maps_and_overlays(client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path) -> None:
    upload_id, _ = _planted_upload(client, planted_image_dir)
    atlas = atlases["planted"]
    base = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0/modes/0"
    pos = client.get(f"{base}/maps", params={"sign": "pos", "basis": "exact"}).json()
    neg = client.get(f"{base}/maps", params={"sign": "neg", "basis": "exact"}).json()
    assert np.allclose(np.asarray(neg["query"]), -np.asarray(pos["query"]))
    assert np.asarray(pos["query"]).shape == (atlas.grid, atlas.grid)
    overlay = client.get(f"{base}/overlay.png", params={"channel": "both", "palette": "orange_blue", "blend": 0.4})
    assert overlay.status_code == 200
    assert Image.open(io.BytesIO(overlay.content)).size == (atlas.image_size, atlas.image_size)
    # Drawn on the mode's one scale (that of its top images' overlays), so the upload compares with them.
    mode = client.get(f"/api/models/{atlas.slug}/layers/0/heads/0/modes/0", params={"basis": "exact"}).json()
    assert pos["scale"] == mode["map_scale"]
    photo_only = client.get(f"{base}/overlay.png", params={"blend": 1, "opacity": 0, "basis": "exact"})
    model_image = client.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/image.png")
    drawn, photo = (np.asarray(Image.open(io.BytesIO(r.content))) for r in (photo_only, model_image))
    # The photo alone, but for the outlines of the two patches that make the score.
    outlines = outlined_pixels(np.asarray(pos["query"]), np.asarray(pos["key"]), atlas.image_size)
    assert np.array_equal(drawn[~outlines], photo[~outlines]) and not np.array_equal(drawn, photo)
    tiny = atlases["tiny"]
    maps = client.get(f"/api/uploads/{upload_id}/models/{tiny.slug}/layers/1/heads/2/modes/15/maps").json()
    assert np.asarray(maps["key"]).shape == (tiny.grid, tiny.grid)


def test_attention_row_split_into_modes_reconstructs_the_model(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    upload_id, _ = _planted_upload(client, planted_image_dir)
    atlas = atlases["tiny"]
    url = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/1/heads/1/attention"
    body = client.get(url, params={"query_patch": 5}).json()
    n_keys = 1 + atlas.grid**2
    attention = np.asarray(body["attention"])
    assert attention.shape == (n_keys,) and attention.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(body["reconstructed"], attention, atol=1e-4)
    assert np.asarray(body["patch_attention"]).shape == (atlas.grid, atlas.grid)
    assert len(body["modes"]) == atlas.n_modes and len(body["modes"][0]["logits"]) == n_keys
    assert body["prefix_kinds"] == ["cls"]
    assert client.get(url, params={"query_patch": atlas.grid**2}).status_code == 404
    assert client.get(url).status_code == 422


def test_upload_endpoints_404_for_unknown_upload_and_model(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    upload_id, _ = _planted_upload(client, planted_image_dir)
    slug = atlases["tiny"].slug
    assert client.get(f"/api/uploads/{'0' * 32}/models/{slug}/layers/0/heads/0").status_code == 404
    assert client.get(f"/api/uploads/{upload_id}/models/nope/layers/0/heads/0").status_code == 404
    assert client.get(f"/api/uploads/{upload_id}/models/{slug}/layers/5/heads/0").status_code == 404


def test_uploads_and_results_are_gone_after_the_ttl(
    make_client: AppFactory, clock: FakeClock, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    client = make_client(upload_ttl_s=3, clock=clock)
    upload_id, _ = _planted_upload(client, planted_image_dir)
    head = f"/api/uploads/{upload_id}/models/{atlases['planted'].slug}/layers/0/heads/0"
    assert client.get(head).status_code == 200
    clock.advance(1.5)
    assert client.get(f"/api/uploads/{upload_id}").json()["expires_in_s"] == 2  # rounded up
    assert client.get(head).status_code == 200
    clock.advance(1.5)
    assert client.get(f"/api/uploads/{upload_id}").status_code == 404
    assert client.get(head).status_code == 404


def test_concurrent_requests_share_one_analysis(
    monkeypatch: pytest.MonkeyPatch, atlas_root: Path, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    analyzer = CountingAnalyzer(monkeypatch)
    app = create_app(Settings(atlas_dir=atlas_root, redis_url=None, frontend_dist=None, device="cpu"))
    atlas = atlases["tiny"]
    data = next(planted_image_dir.glob("red_blue/*.png")).read_bytes()

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            upload_id = (await http.post("/api/uploads", files={"file": ("a.png", data, "image/png")})).json()["id"]
            base = f"/api/uploads/{upload_id}/models/{atlas.slug}"
            urls = [f"{base}/layers/{layer}/heads/{head}" for layer in range(2) for head in range(3)]
            urls += [f"{base}/layers/1/heads/0/modes/{mode}/maps" for mode in range(4)]
            urls += [f"{base}/modes", f"{base}/modes?basis=exact"]  # the whole model's ranking
            responses = await asyncio.gather(*(http.get(url) for url in urls))
            return [r.status_code for r in responses]

    assert asyncio.run(scenario()) == [200] * 12
    assert analyzer.calls == 1


def test_model_that_cannot_be_loaded_is_503_not_500(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    def broken(_source: ModelSource) -> NoReturn:
        raise OSError("/secret/path/checkpoint missing")

    monkeypatch.setattr(analyzers_service, "load_model_from_source", broken)
    upload_id, _ = _planted_upload(client, planted_image_dir)
    response = client.get(f"/api/uploads/{upload_id}/models/{atlases['tiny'].slug}/layers/0/heads/0")
    assert response.status_code == 503
    assert "/secret" not in response.text and "cannot be loaded" in response.json()["detail"]
