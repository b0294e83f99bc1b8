"""Precompute progress: the job reports through Redis, the service lists it for the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from precompute.cli import main as precompute_main
from qkatlas.images import open_image_source
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT
from tests.helpers.backend import AppFactory, RedisServer


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


def test_a_multi_model_job_lists_every_model_with_the_whole_jobs_totals(
    make_client: AppFactory, redis_server: RedisServer, planted_image_dir: Path, tmp_path: Path
) -> None:
    args = ["--model", "planted", "--model", TINY_VIT, "--random-init", "--images", str(planted_image_dir)]
    args += ["--out", str(tmp_path), "--no-progress", "--workers", "0", "--progress-redis", redis_server.url]
    for key, value in TINY_OVERRIDES.items():
        args += ["--override", f"{key}={value}"]
    assert precompute_main(args) == 0
    jobs = make_client(redis_url=redis_server.url).get("/api/progress").json()["jobs"]
    assert {job["model_id"] for job in jobs} == {"planted", TINY_VIT}
    n_images = len(open_image_source(planted_image_dir))
    for job in jobs:
        assert job["state"] == "done" and job["done"] == job["total"] == n_images
        assert (tmp_path / job["slug"] / "manifest.json").is_file()
    totals = {json.dumps(job["job"], sort_keys=True) for job in jobs}
    assert len(totals) == 1  # every model carries the same job record
    (total,) = (job["job"] for job in jobs[:1])
    assert (total["n_models"], total["models_done"]) == (2, 2)
    assert total["done"] == total["total"] == 2 * n_images


def test_a_model_left_out_by_skip_unloadable_is_listed_as_failed_with_the_reason(
    make_client: AppFactory, redis_server: RedisServer, planted_image_dir: Path, tmp_path: Path
) -> None:
    args = ["--model", "planted", "--model", "no_such_model_anywhere", "--skip-unloadable"]
    args += ["--images", str(planted_image_dir), "--out", str(tmp_path), "--no-progress", "--workers", "0"]
    assert precompute_main([*args, "--progress-redis", redis_server.url]) == 0
    jobs = {job["model_id"]: job for job in make_client(redis_url=redis_server.url).get("/api/progress").json()["jobs"]}
    assert jobs["planted"]["state"] == "done"
    assert jobs["no_such_model_anywhere"]["state"] == "failed"
    assert "could not be loaded" in jobs["no_such_model_anywhere"]["message"]
    assert jobs["planted"]["job"]["models_done"] == 1
