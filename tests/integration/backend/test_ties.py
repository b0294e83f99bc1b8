"""Ties at the top-K cut-off through the API: which last places tie with the next image at the atlas's
precision, checked against the rule applied by hand to the stored scores, and what an older atlas says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from qkatlas.atlas import Atlas
from qkatlas.conventions import SIGNS
from tests.helpers.backend import AppFactory


def _tied_from(scores: list[float], next_score: float, epsilon: float) -> int | None:
    """By hand: walk up from the K-th place while each place's score lies within ε·(|a| + |b|) of the next image's."""
    first = None
    for place in range(len(scores) - 1, -1, -1):
        if scores[place] - next_score > epsilon * (abs(scores[place]) + abs(next_score)):
            break
        first = place
    return first


def test_every_mode_names_exactly_the_last_places_that_tie(make_client: AppFactory, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["tiny"]
    ties = atlas.manifest.ties
    assert ties is not None and atlas.manifest.run.precision == "fp32"
    client = make_client()
    assert next(m for m in client.get("/api/models").json() if m["slug"] == atlas.slug)["precision"] == "fp32"
    found = 0
    for layer, head, mode in np.ndindex(atlas.n_layers, atlas.n_heads, atlas.n_modes):
        for s, sign in enumerate(SIGNS):
            query = {"sign": sign.value, "basis": "faithful"}
            body = client.get(f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{mode}", params=query).json()
            scores = [float(v) for v in atlas.arrays["topk_scores"][0, layer, head, mode, s] if np.isfinite(v)]
            next_score = float(atlas.arrays["topk_runner_up"][0, layer, head, mode, s])
            expected = _tied_from(scores, next_score, ties.epsilon) if len(scores) == atlas.top_k else None
            tie = body["cutoff_tie"]
            assert (tie["first_rank"] if tie else None) == expected, (layer, head, mode, sign)
            assert body["ties_missing"] is None
            if tie:
                found += 1
                assert tie["last_rank"] == atlas.top_k - 1 and tie["precision"] == "fp32"
                assert tie["next_score"] == next_score and tie["epsilon"] == ties.epsilon
    assert found > 0  # the photos hold the same cat twice (cat.jpg, chelsea.jpg): equal scores tie


def test_an_atlas_from_before_the_tie_check_is_served_and_says_so(
    tmp_path: Path, make_client: AppFactory, atlases: dict[str, Atlas]
) -> None:
    old = tmp_path / atlases["tiny"].path.name
    shutil.copytree(atlases["tiny"].path, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 5  # as written before the precision and the runner-up were recorded
    del manifest["ties"]
    del manifest["run"]["precision"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    (old / "topk" / "runner_up.npy").unlink()
    client = make_client(atlas_dir=tmp_path)
    summary = client.get("/api/models").json()[0]
    assert summary["precision"] == "fp32"  # float32 on the CPU, as its run recorded
    mode = client.get(f"/api/models/{old.name}/layers/0/heads/0/modes/0").json()
    assert mode["cutoff_tie"] is None and "before the tie check" in mode["ties_missing"]
    assert mode["top_images"]  # everything else as before
