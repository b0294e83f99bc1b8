"""Latency of the link-preview images (`GET …/preview.png?v=`, 1200 × 630 PNG) as the service answers them over
HTTP, cold (drawn) and warm (from the render cache), against a baseline measured in the same run: the overlay
of the same mode's best image (`GET …/modes/{n}/top/0/overlay.png?v=`), cold and warm.

    PYTHONPATH=. python benchmarks/preview_bench.py                          # random-init ViT-S/16 atlas
    PYTHONPATH=. python benchmarks/preview_bench.py --atlas-dir /tmp/demo/atlases  # e.g. the offline demo's

Without ``--atlas-dir`` it builds an atlas of random-init DINO ViT-S/16 (12 layers × 6 heads × 64 modes, 224 px)
over the scikit-image sample photos with the real precompute job (no labels: no class previews then). It
starts ``python -m backend`` over the atlases on loopback (one worker, in-process cache) and, for
``--modes`` random signed modes of the largest atlas (each asked once: cold), times the overlay of its best
image, then its preview, then both again (warm); the same for as many heads, and for the classes of the
atlases with labels. The service's first overlay and first preview (code, fonts and files loaded) are
reported apart.
Medians and 90th percentiles; the bar (docs/architecture.md#performance-targets) is < 300 ms cold on 2 cores.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
from search_bench import served

from qkatlas.atlas import Atlas, find_atlases


def _ms(seconds: list[float]) -> str:
    values = sorted(seconds)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return f"median {1000 * statistics.median(values):6.1f} ms   p90 {1000 * p90:6.1f} ms"


def _timed(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = http.get(path)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (path, response.status_code, response.text[:200])
    assert response.headers["content-type"] == "image/png"
    return elapsed


@contextmanager
def atlas_root(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    from image_maps_bench import build_atlas

    from qkatlas.sample_photos import write_sample_photos

    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        write_sample_photos(photos)
        build_atlas("facebook/dino-vits16", Path(tmp) / "atlases", photos, "cpu")
        yield Path(tmp) / "atlases"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atlas-dir", type=Path, default=None, help="serve these atlases instead of building one")
    parser.add_argument("--modes", type=int, default=20, help="random signed modes (and heads) timed")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {platform.node()}")
    with atlas_root(args.atlas_dir) as root:
        atlases, failures = find_atlases(root)
        assert atlases and not failures, failures
        atlas: Atlas = max(atlases, key=lambda a: a.n_layers * a.n_heads * a.n_modes)
        print(f"atlas: {atlas.model_id} ({atlas.n_layers} × {atlas.n_heads} × {atlas.n_modes}, {atlas.image_size} px)")
        rng = np.random.default_rng(0)
        picks = [
            (int(rng.integers(atlas.n_layers)), int(rng.integers(atlas.n_heads)), int(rng.integers(atlas.n_modes)))
            for _ in range(args.modes)
        ]
        base = f"/api/models/{atlas.slug}"
        v = atlas.revision
        with served(root) as url, httpx.Client(base_url=url, timeout=60) as http:
            # The service's first requests load code, fonts and the atlas's files: an overlay, then a preview.
            first_overlay = _timed(http, f"{base}/layers/0/heads/0/modes/0/top/0/overlay.png?sign=neg&v={v}")
            first_preview = _timed(http, f"{base}/layers/0/heads/0/modes/1/preview.png?sign=neg&v={v}")
            print(f"first request of the service, an overlay: {1000 * first_overlay:.0f} ms")
            print(f"then the first preview: {1000 * first_preview:.0f} ms")
            rows: dict[str, list[float]] = {}
            for layer, head, mode in picks:
                path = f"{base}/layers/{layer}/heads/{head}/modes/{mode}"
                overlay = f"{path}/top/0/overlay.png?v={v}"
                preview = f"{path}/preview.png?v={v}"
                rows.setdefault("overlay, cold (baseline)", []).append(_timed(http, overlay))
                rows.setdefault("mode preview, cold", []).append(_timed(http, preview))
                rows.setdefault("overlay, warm", []).append(_timed(http, overlay))
                rows.setdefault("mode preview, warm", []).append(_timed(http, preview))
            for layer, head in sorted({(layer, head) for layer, head, _ in picks}):
                preview = f"{base}/layers/{layer}/heads/{head}/preview.png?v={v}"
                rows.setdefault("head preview, cold", []).append(_timed(http, preview))
                rows.setdefault("head preview, warm", []).append(_timed(http, preview))
            labelled = [a for a in atlases if a.statistics is not None and a.statistics.has_classes]
            classes = labelled[0].statistics.classes if labelled and labelled[0].statistics is not None else ()
            for index in rng.choice(len(classes), min(args.modes, len(classes)), replace=False) if classes else []:
                preview = f"/api/classes/{quote(classes[int(index)], safe='')}/preview.png"
                rows.setdefault("class preview, cold", []).append(_timed(http, preview))
                rows.setdefault("class preview, warm", []).append(_timed(http, preview))
            for name, seconds in rows.items():
                print(f"  {name:28s} {_ms(seconds)}   (n = {len(seconds)})")
            cold = statistics.median(rows["mode preview, cold"]) / statistics.median(rows["overlay, cold (baseline)"])
            print(f"mode preview cold / overlay cold (medians): {cold:.1f} ×")


if __name__ == "__main__":
    main()
