"""Shared mode lists: created, read back, content-addressed, validated, rate-limited, and kept on disk through
backend restarts, Redis flushes and concurrent writers."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from tests.helpers.backend import AppFactory, RedisServer
from tests.helpers.clock import FakeClock


def _mode(atlas: Atlas, layer: int, head: int, mode: int, **extra: Any) -> dict[str, Any]:
    return {"model": atlas.slug, "layer": layer, "head": head, "mode": mode, **extra}


def _two_models(atlases: dict[str, Atlas]) -> dict[str, Any]:
    planted, tiny = atlases["planted"], atlases["tiny"]
    return {
        "title": "Face → eyes, three ways",
        "modes": [
            _mode(planted, 1, 0, 0, sign="pos", basis="faithful", note="red → cyan"),
            # Named by its model id, as the dashboard accepts: stored under the atlas slug.
            _mode(tiny, 0, 1, 2, model=tiny.model_id, sign="neg", basis="exact", note=""),
        ],
    }


@pytest.fixture
def lists_db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "lists.sqlite3"


@pytest.fixture
def lists_client(make_client: AppFactory, lists_db: Path) -> TestClient:
    return make_client(lists_db=lists_db)


def test_a_list_is_stored_read_back_and_named_by_the_hash_of_its_content(
    lists_client: TestClient, atlases: dict[str, Atlas], lists_db: Path
) -> None:
    body = _two_models(atlases)
    created = lists_client.post("/api/lists", json=body)
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    read = lists_client.get(f"/api/lists/{list_id}")
    assert read.status_code == 200
    assert read.json() == created.json()
    planted, tiny = atlases["planted"], atlases["tiny"]
    listed = read.json()
    assert listed["title"] == body["title"]
    assert [
        (m["model"], m["model_id"], m["layer"], m["head"], m["mode"], m["sign"], m["basis"], m["note"])
        for m in listed["modes"]
    ] == [
        (planted.slug, planted.model_id, 1, 0, 0, "pos", "faithful", "red → cyan"),
        (tiny.slug, tiny.model_id, 0, 1, 2, "neg", "exact", ""),
    ]
    assert [(m["revision"], m["atlas"], m["current_revision"]) for m in listed["modes"]] == [
        (planted.revision, "current", planted.revision),
        (tiny.revision, "current", tiny.revision),
    ]
    # The id, recomputed here from the stored row: 128 bits of the SHA-256 of what is stored, in base32.
    with sqlite3.connect(lists_db) as connection:
        (stored,) = connection.execute("SELECT body FROM lists WHERE id = ?", (list_id,)).fetchone()
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    expected = base64.b32encode(hashlib.sha256(stored).digest()[:16]).decode().rstrip("=").lower()
    assert list_id == expected
    assert json.loads(stored)["modes"][1]["model"] == tiny.slug


def test_the_same_content_gets_the_same_id_and_an_edit_a_new_one(
    lists_client: TestClient, atlases: dict[str, Atlas]
) -> None:
    body = _two_models(atlases)
    first = lists_client.post("/api/lists", json=body)
    again = lists_client.post("/api/lists", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    # The same modes named differently (slug instead of model id, surrounding spaces) are the same list.
    renamed = json.loads(json.dumps(body))
    renamed["modes"][1]["model"] = atlases["tiny"].slug
    renamed["title"] = f"  {body['title']} "
    assert lists_client.post("/api/lists", json=renamed).json()["id"] == first.json()["id"]
    ids = {first.json()["id"]}
    edits: list[dict[str, Any]] = [
        {**body, "title": "Another title"},
        {**body, "modes": [{**body["modes"][0], "note": "another note"}, body["modes"][1]]},
        {**body, "modes": list(reversed(body["modes"]))},
        {**body, "modes": [{**body["modes"][0], "sign": "neg"}, body["modes"][1]]},
    ]
    for edit in edits:
        answer = lists_client.post("/api/lists", json=edit)
        assert answer.status_code == 201, answer.text
        ids.add(answer.json()["id"])
    assert len(ids) == 1 + len(edits)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda b, a: b["modes"].append(_mode(a["planted"], 0, 0, 0, model="no-such-model")), "no served model"),
        (lambda b, a: b["modes"].append(_mode(a["planted"], a["planted"].n_layers, 0, 0)), "no layer"),
        (lambda b, a: b["modes"].append(_mode(a["planted"], 0, a["planted"].n_heads, 0)), "no head"),
        (lambda b, a: b["modes"].append(_mode(a["planted"], 0, 0, a["planted"].n_modes)), "no mode"),
        (lambda b, a: b["modes"].append(dict(b["modes"][0], note="again")), "repeats modes[0]"),
        (lambda b, a: b.update(title="   "), "title is empty"),
        (lambda b, a: b.update(title="two\nlines"), "control character"),
    ],
)
def test_a_list_naming_what_no_served_atlas_has_is_refused_with_the_reason(
    lists_client: TestClient, atlases: dict[str, Atlas], change: Any, words: str
) -> None:
    body = _two_models(atlases)
    change(body, atlases)
    answer = lists_client.post("/api/lists", json=body)
    assert answer.status_code == 422
    assert words in answer.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"title": "t", "modes": []},
        {"title": "", "modes": [{"model": "x", "layer": 0, "head": 0, "mode": 0}]},
        {"title": "t" * 121, "modes": [{"model": "x", "layer": 0, "head": 0, "mode": 0}]},
        {"title": "t", "modes": [{"model": "x", "layer": 0, "head": 0, "mode": 0, "note": "n" * 281}]},
        {"title": "t", "modes": [{"model": "x", "layer": 0, "head": 0, "mode": 0}] * 25},
        {"title": "t", "modes": [{"model": "x", "layer": -1, "head": 0, "mode": 0}]},
        {"title": "t", "modes": [{"model": "x", "layer": 0, "head": 0, "mode": 0, "sign": "up"}]},
    ],
    ids=["no modes", "empty title", "long title", "long note", "too many modes", "negative layer", "bad sign"],
)
def test_limits_are_refused_by_the_schema(lists_client: TestClient, body: dict[str, Any]) -> None:
    answer = lists_client.post("/api/lists", json=body)
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], list)


def test_unknown_and_malformed_ids(lists_client: TestClient) -> None:
    unknown = lists_client.get(f"/api/lists/{'a' * 26}")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no such list"}
    malformed = lists_client.get("/api/lists/not-a-list")
    assert malformed.status_code == 422
    assert "is not a list id" in malformed.json()["detail"][0]["msg"]


def test_the_app_page_of_a_list_exists_only_for_a_stored_list(
    lists_client: TestClient, atlases: dict[str, Atlas]
) -> None:
    list_id = lists_client.post("/api/lists", json=_two_models(atlases)).json()["id"]
    assert lists_client.get(f"/api/pages/lists/{list_id}").status_code == 200
    assert lists_client.get(f"/api/pages/lists/{list_id}/").status_code == 200
    assert lists_client.get("/api/pages/lists").status_code == 200  # the draft list
    unknown = lists_client.get(f"/api/pages/lists/{'b' * 26}")
    assert (unknown.status_code, unknown.json()["problem"]) == (404, "no such list")
    assert lists_client.get("/api/pages/lists/NOT-AN-ID").status_code == 404


def test_creating_lists_is_rate_limited_per_client(
    make_client: AppFactory, lists_db: Path, atlases: dict[str, Atlas], clock: FakeClock, planted_image_dir: Path
) -> None:
    client = make_client(lists_db=lists_db, list_rate_limit=2, list_rate_window_s=60, clock=clock)
    body = _two_models(atlases)
    assert client.post("/api/lists", json=body).status_code == 201
    assert client.post("/api/lists", json={**body, "title": "second"}).status_code == 201
    refused = client.post("/api/lists", json={**body, "title": "third"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    # Uploads are counted apart, by the same mechanism.
    image = sorted(planted_image_dir.rglob("*.png"))[0].read_bytes()
    assert client.post("/api/uploads", files={"file": ("a.png", image)}).status_code == 201
    clock.advance(60)
    assert client.post("/api/lists", json={**body, "title": "third"}).status_code == 201


def test_a_list_survives_a_backend_restart_and_a_redis_flush(
    redis_server: RedisServer, make_client: AppFactory, lists_db: Path, atlases: dict[str, Atlas]
) -> None:
    first = make_client(redis_url=redis_server.url, lists_db=lists_db)
    created = first.post("/api/lists", json=_two_models(atlases))
    assert created.status_code == 201
    list_id = created.json()["id"]
    first.__exit__(None, None, None)  # the backend stops
    redis_server.client().flushall()
    assert redis_server.client().dbsize() == 0
    restarted = make_client(redis_url=redis_server.url, lists_db=lists_db)
    read = restarted.get(f"/api/lists/{list_id}")
    assert read.status_code == 200
    assert read.json() == created.json()


def test_concurrent_writers_on_one_database_lose_nothing(
    make_client: AppFactory, lists_db: Path, atlases: dict[str, Atlas]
) -> None:
    """Two apps (as two worker processes would: each its own connections) post at once: the same list and
    different ones. Every request succeeds, the same content is stored once (one 201), the rest all kept."""
    workers = [make_client(lists_db=lists_db, list_rate_limit=1000) for _ in range(2)]
    body = _two_models(atlases)
    requests = [(workers[n % 2], body if n % 3 == 0 else {**body, "title": f"list {n}"}) for n in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda request: request[0].post("/api/lists", json=request[1]), requests))
    assert all(answer.status_code in (200, 201) for answer in answers), [a.text for a in answers]
    same = [answer for (_, sent), answer in zip(requests, answers, strict=True) if sent is body]
    assert sorted(answer.status_code for answer in same) == [200] * (len(same) - 1) + [201]
    ids = {answer.json()["id"] for answer in answers}
    assert len(ids) == 1 + (len(requests) - len(same))
    for list_id in ids:
        assert workers[0].get(f"/api/lists/{list_id}").status_code == 200


def test_a_list_says_when_its_atlas_was_rebuilt_or_is_no_longer_served(
    make_client: AppFactory, lists_db: Path, atlases: dict[str, Atlas], tmp_path: Path
) -> None:
    root = tmp_path / "atlases"
    root.mkdir()
    planted, tiny = atlases["planted"], atlases["tiny"]
    for atlas in (planted, tiny):
        shutil.copytree(atlas.path, root / atlas.path.name)
    client = make_client(atlas_dir=root, atlas_poll_s=0, lists_db=lists_db)
    list_id = client.post("/api/lists", json=_two_models(atlases)).json()["id"]
    services = client.app.state.services  # type: ignore[attr-defined]

    # A rebuild: the manifest (written last, its hash the revision) changes; replaced atomically.
    manifest = root / planted.path.name / "manifest.json"
    rebuilt = manifest.with_name("manifest.json.new")
    rebuilt.write_text(json.dumps(json.loads(manifest.read_text()), indent=2))
    os.replace(rebuilt, manifest)
    shutil.rmtree(root / tiny.path.name)
    services.atlases.refresh()
    modes = client.get(f"/api/lists/{list_id}").json()["modes"]
    now = services.atlases.get(planted.slug).revision
    assert now != planted.revision
    assert [(m["atlas"], m["revision"], m["current_revision"]) for m in modes] == [
        ("rebuilt", planted.revision, now),
        ("not_served", tiny.revision, None),
    ]


#: One worker process's writes: the same 30 lists as every other writer, then 30 of its own.
_WRITER = """
import sys
from pathlib import Path
from backend.schemas import PinnedMode
from backend.services.mode_lists import ListStore, PinnedList
from qkatlas.conventions import Basis, Sign

store = ListStore(Path(sys.argv[1]))
mode = PinnedMode(
    model="planted__x",
    model_id="planted",
    revision="0" * 16,
    layer=0,
    head=0,
    mode=0,
    sign=Sign.pos,
    basis=Basis.faithful,
    note="",
)
for title in [f"shared {n}" for n in range(30)] + [f"{sys.argv[2]} {n}" for n in range(30)]:
    list_id, created = store.put(PinnedList(title, (mode,)))
    print(title, list_id, int(created))
"""


def test_worker_processes_share_the_database(lists_db: Path) -> None:
    """Two processes write the same lists and their own at once: each list is stored once and created by
    exactly one of them, and every write lands."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(lists_db), name], stdout=subprocess.PIPE, text=True, env=env
        )
        for name in ("first", "second")
    ]
    outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]
    created: dict[str, int] = {}
    ids: dict[str, str] = {}
    for output in outputs:
        for line in output.splitlines():
            title, list_id, new = line.rsplit(" ", 2)
            created[title] = created.get(title, 0) + int(new)
            assert ids.setdefault(title, list_id) == list_id  # the same content, the same id in both
    assert len(created) == 90 and all(count == 1 for count in created.values())
    with sqlite3.connect(lists_db) as connection:
        assert connection.execute("SELECT count(*) FROM lists").fetchone()[0] == 90
