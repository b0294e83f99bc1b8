"""Upload-analysis cache entries are trusted only when this codec version wrote them intact: an entry of
another version, or a corrupt one, is recomputed, never read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from backend.services.analysis.codec import CODEC_VERSION, HEAD_CODEC
from backend.services.container import Services
from qkatlas.atlas import Atlas
from tests.helpers.backend import AppFactory, CountingAnalyzer


def test_stale_or_corrupt_analysis_entries_are_recomputed(
    monkeypatch: pytest.MonkeyPatch, make_client: AppFactory, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    analyzer = CountingAnalyzer(monkeypatch)
    client = make_client()
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    portal = client.portal  # the app's event loop, where its cache is used
    assert portal is not None
    atlas = atlases["planted"]
    data = next(planted_image_dir.glob("red_blue/*.png")).read_bytes()
    upload_id = client.post("/api/uploads", files={"file": ("a.png", data, "image/png")}).json()["id"]
    url = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0"
    key = f"qk:analysis:{upload_id}:{atlas.slug}:{atlas.revision}:0:0"

    first = client.get(url)
    assert first.status_code == 200 and analyzer.calls == 1
    good = portal.call(services.cache.get, key)
    assert good is not None and HEAD_CODEC.decode(good) is not None
    # The same head as written before the codec had a version: a bare npz (still readable as such).
    old_layout = io.BytesIO()
    np.savez(old_layout, key_salience=np.zeros((2, 2), np.float32))
    stale = {
        "an entry of the unversioned layout": old_layout.getvalue(),
        "an entry of another version": good.replace(
            f" v{CODEC_VERSION}\n".encode(), f" v{CODEC_VERSION - 1}\n".encode(), 1
        ),
        "a corrupt entry": good[: len(good) // 2],
    }
    for case, raw in stale.items():
        calls = analyzer.calls
        portal.call(services.cache.set, key, raw, 600)
        again = client.get(url)
        assert again.status_code == 200, case
        assert again.json() == first.json(), case
        assert analyzer.calls == calls + 1, f"{case} is recomputed"
        rewritten = portal.call(services.cache.get, key)
        assert rewritten is not None and HEAD_CODEC.decode(rewritten) is not None, f"{case} is replaced"
    calls = analyzer.calls
    assert client.get(url).json() == first.json() and analyzer.calls == calls, "a good entry is read"
