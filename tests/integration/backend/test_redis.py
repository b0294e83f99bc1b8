"""The service with a real Redis: shared cache with TTLs everywhere, rate limits, and Redis outages."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from tests.helpers.backend import AppFactory, RedisServer
from tests.helpers.clock import FakeClock


def _browse_and_upload(client: TestClient, atlas: Atlas, image: bytes) -> list[int]:
    """One round of everything the dashboard does; returns the status codes."""
    mode = f"/api/models/{atlas.slug}/layers/0/heads/0/modes/0"
    statuses = [
        client.get(mode).status_code,
        client.get(f"{mode}/top/0/overlay.png", params={"blend": 0.3}).status_code,
        client.get(f"{mode}/top/1/maps").status_code,
        client.get(f"/api/models/{atlas.slug}/layers/1/heads/1").status_code,
    ]
    created = client.post("/api/uploads", files={"file": ("a.png", image, "image/png")})
    statuses.append(created.status_code)
    if created.status_code == 201:
        base = f"/api/uploads/{created.json()['id']}/models/{atlas.slug}"
        statuses += [
            client.get(f"{base}/layers/0/heads/0").status_code,
            client.get(f"{base}/layers/0/heads/0/modes/1/overlay.png").status_code,
            client.get(f"{base}/image.png").status_code,
        ]
    return statuses


def _image(planted_image_dir: Path, n: int) -> bytes:
    return sorted(planted_image_dir.rglob("*.png"))[n].read_bytes()


def test_with_redis_everything_is_cached_with_a_ttl(
    redis_server: RedisServer, make_client: AppFactory, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    client = make_client(redis_url=redis_server.url, upload_ttl_s=600, overlay_ttl_s=900)
    assert client.get("/api/health").json()["redis"] == "ok"
    assert set(_browse_and_upload(client, atlases["planted"], _image(planted_image_dir, 0))) <= {200, 201}
    redis = redis_server.client()
    keys = [key.decode() if isinstance(key, bytes) else key for key in redis.keys("*")]  # bytes: no decode_responses
    kinds = {key.split(":")[1] for key in keys}
    assert {"upload", "upload-meta", "analysis", "overlay", "upload-image", "ratelimit"} <= kinds
    ttls = {key: redis.ttl(key) for key in keys}
    assert all(0 < ttl <= 900 for ttl in ttls.values()), ttls  # nothing is kept without a TTL
    assert all(ttl <= 600 for key, ttl in ttls.items() if "upload" in key or "analysis" in key)
    assert all(ttl <= 60 for key, ttl in ttls.items() if "ratelimit" in key)  # one window


def test_uploads_are_shared_between_replicas(
    redis_server: RedisServer, make_client: AppFactory, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    first, second = make_client(redis_url=redis_server.url), make_client(redis_url=redis_server.url)
    upload_id = first.post("/api/uploads", files={"file": ("a.png", _image(planted_image_dir, 1))}).json()["id"]
    assert second.get(f"/api/uploads/{upload_id}").status_code == 200
    head = f"/api/uploads/{upload_id}/models/{atlases['planted'].slug}/layers/1/heads/0"
    assert first.get(head).json() == second.get(head).json()


def test_rate_limit_is_shared_through_redis(
    redis_server: RedisServer, make_client: AppFactory, clock: FakeClock, planted_image_dir: Path
) -> None:
    # Both replicas read the same clock: one window for both, and no window edge unless the test moves there.
    first = make_client(redis_url=redis_server.url, upload_rate_limit=2, clock=clock)
    second = make_client(redis_url=redis_server.url, upload_rate_limit=2, clock=clock)
    image = _image(planted_image_dir, 2)
    assert first.post("/api/uploads", files={"file": ("a.png", image)}).status_code == 201
    assert second.post("/api/uploads", files={"file": ("a.png", image)}).status_code == 201
    assert first.post("/api/uploads", files={"file": ("a.png", image)}).status_code == 429
    clock.advance(60)  # the next window (the last one's counter expires in Redis on its own)
    assert second.post("/api/uploads", files={"file": ("a.png", image)}).status_code == 201


def test_redis_killed_and_restarted_browsing_never_fails_and_uploads_pause(
    redis_server: RedisServer, make_client: AppFactory, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    client = make_client(redis_url=redis_server.url)
    atlas = atlases["planted"]
    assert set(_browse_and_upload(client, atlas, _image(planted_image_dir, 3))) <= {200, 201}
    earlier = client.post("/api/uploads", files={"file": ("a.png", _image(planted_image_dir, 4))}).json()

    redis_server.stop()
    for n in range(4, 7):  # browsing keeps working, uncached by Redis; uploads are refused, not half-kept
        statuses = _browse_and_upload(client, atlas, _image(planted_image_dir, n))
        assert set(statuses[:-1]) == {200} and statuses[-1] == 503, statuses
    refused = client.post("/api/uploads", files={"file": ("a.png", _image(planted_image_dir, 7))})
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert "upload store (Redis) is unreachable" in refused.json()["detail"] and "try again" in refused.json()["detail"]
    # An upload the outage hides is not called gone: the client is told to try again.
    hidden = client.get(f"/api/uploads/{earlier['id']}")
    assert hidden.status_code == 503 and "try again" in hidden.json()["detail"]
    health = client.get("/api/health").json()
    assert (health["redis"], health["status"]) == ("unavailable", "degraded")

    redis_server.start()
    health = client.get("/api/health").json()
    assert (health["redis"], health["status"]) == ("ok", "ok")
    for n in range(8, 10):
        assert set(_browse_and_upload(client, atlas, _image(planted_image_dir, n))) <= {200, 201}
    assert redis_server.client().keys("qk:upload:*"), "new uploads go to Redis again"
