"""Precompute progress: the job reports through Redis, the service lists it for the dashboard."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from precompute.cli import main as precompute_main
from tests.integration.backend.conftest import AppFactory, RedisServer


def test_a_finished_job_is_listed_with_its_counts(
    make_client: AppFactory, redis_server: RedisServer, planted_image_dir: Path, tmp_path: Path
) -> None:
    args = ["--model", "planted", "--images", str(planted_image_dir), "--out", str(tmp_path), "--no-progress"]
    assert precompute_main([*args, "--workers", "0", "--progress-redis", redis_server.url]) == 0
    body = make_client(redis_url=redis_server.url).get("/api/progress").json()
    assert body["redis"] == "ok"
    (job,) = body["jobs"]
    assert job["slug"] == f"planted__{planted_image_dir.name}"
    assert (job["state"], job["phase"]) == ("done", "stream")
    assert job["done"] == job["total"] > 0
    assert redis_server.client().ttl(f"qkatlas:progress:{job['slug']}") > 0
    assert (tmp_path / job["slug"] / "manifest.json").is_file()  # the reported slug is the atlas's


def test_a_failed_job_reports_why(make_client: AppFactory, redis_server: RedisServer, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    args = ["--model", "planted", "--images", str(tmp_path / "empty"), "--out", str(tmp_path), "--no-progress"]
    assert precompute_main([*args, "--progress-redis", redis_server.url]) == 1
    (job,) = make_client(redis_url=redis_server.url).get("/api/progress").json()["jobs"]
    assert job["state"] == "failed" and "empty image source" in job["message"]


def test_without_redis_the_list_is_empty(client: TestClient) -> None:
    assert client.get("/api/progress").json() == {"redis": "not_configured", "jobs": []}
