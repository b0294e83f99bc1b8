"""Latency of a dataset image's maps computed on demand (`GET /api/models/{m}/images/{id}/maps`) and of
removing a mode on it (`…/layers/{l}/heads/{h}/ablation`), as the service answers them, against the model's
forward pass alone on the same image in the same run.

    python benchmarks/image_maps_bench.py                  # ViT-S/16 (random-init dino-vits16), CPU
    python benchmarks/image_maps_bench.py --device cuda

Builds an atlas of the model (random weights: no download; timings do not depend on the values) over the
scikit-image sample photos with the real precompute job, serves it in-process (``TestClient``: the whole
ASGI stack, no network), and times, per photo: the first request for one mode (cold: the image's analysis,
every layer, head and mode at once), then the requests for the head's other modes (cached), one by one
and all together, then one ablation (the head's mode 0 removed: the image run as it is and with the mode
taken out, in one batch of 2, and compared) and the same request again (cached). The baseline, the model's
forward pass alone (batch 1), is timed on each photo just before its requests. The model's own load is timed
once, apart. Medians over the photos; the bar (docs/architecture.md#performance-targets) is one image's maps
for a whole head in under 1 s on 2 CPU cores, cached after.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from fastapi.testclient import TestClient

from backend.core.config import Settings
from backend.main import create_app
from precompute.cli import main as precompute_main
from qkatlas.atlas import Atlas, find_atlases
from qkatlas.device import resolve_device
from qkatlas.images import load_image_file, to_model_input
from qkatlas.models import load_model_from_source
from qkatlas.sample_photos import write_sample_photos


def build_atlas(model: str, out: Path, photos: Path, device: str) -> Atlas:
    args = ["--model", model, "--random-init", "--images", str(photos), "--out", str(out)]
    args += ["--no-progress", "--workers", "0", "--top-k", "4", "--batch-size", "8", "--device", device]
    assert precompute_main(args) == 0
    atlases, failures = find_atlases(out)
    assert not failures and len(atlases) == 1, failures
    return atlases[0]


class Forward:
    """The baseline: the model's forward pass alone on one image (batch 1), on the same device."""

    def __init__(self, atlas: Atlas, device: torch.device) -> None:
        self.adapter = load_model_from_source(atlas.manifest.model_source).to(device)
        self.adapter.module.eval()
        self.device = device

    def seconds(self, photo: Path) -> float:
        adapter = self.adapter
        pixels = to_model_input(load_image_file(photo), adapter.preprocessing).unsqueeze(0).to(self.device)
        with torch.inference_mode():
            normalized = adapter.normalize(pixels)
            started = time.perf_counter()
            adapter.module(normalized)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="facebook/dino-vits16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layer", type=int, default=6)
    parser.add_argument("--head", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)

    with tempfile.TemporaryDirectory() as scratch:
        photos = write_sample_photos(Path(scratch) / "photos")
        atlas = build_atlas(args.model, Path(scratch) / "atlases", Path(scratch) / "photos", str(device))
        indices = sorted(i for i in range(atlas.manifest.dataset.n_images) if atlas.image_meta(i) is not None)
        settings = Settings(atlas_dir=Path(scratch) / "atlases", redis_url=None, frontend_dist=None, device=args.device)
        with TestClient(create_app(settings)) as client:

            def timed(url: str) -> float:
                started = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text
                return elapsed

            def maps(index: int, mode: int) -> float:
                return timed(
                    f"/api/models/{atlas.slug}/images/{atlas.slug}~{index}/maps"
                    f"?layer={args.layer}&head={args.head}&mode={mode}&basis=faithful"
                )

            def ablation(index: int) -> float:
                return timed(
                    f"/api/models/{atlas.slug}/images/{atlas.slug}~{index}/layers/{args.layer}/heads/{args.head}"
                    "/ablation?remove=0&query_patch=0"
                )

            model_load_s = maps(indices[0], 0)  # builds the analyser (once per atlas revision), then analyses
            forward = Forward(atlas, device)
            forward.seconds(photos[0])  # warm-up
            baseline, cold, cached, head, ablated, ablated_again = [], [], [], [], [], []
            # Each image's baseline is timed just before its maps, so that a busy machine slows both alike.
            for index in indices[1:]:
                record = atlas.image_meta(index)
                assert record is not None
                baseline.append(forward.seconds(Path(scratch) / "photos" / record.source))
                first = maps(index, 0)
                rest = [maps(index, mode) for mode in range(1, atlas.n_modes)]
                cold.append(first)
                cached.append(statistics.median(rest))
                head.append(sum(rest))
                ablated.append(ablation(index))
                ablated_again.append(ablation(index))
        baseline_ms = 1000 * statistics.median(baseline)

    report = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        + (torch.cuda.get_device_name() if device.type == "cuda" else "CPU"),
        "model": args.model,
        "images": len(cold),
        "first_request_with_model_load_s": model_load_s,
        "forward_pass_ms": baseline_ms,
        "cold_one_mode_ms": 1000 * statistics.median(cold),
        "cached_one_mode_ms": 1000 * statistics.median(cached),
        "other_modes_of_the_head_cached_ms": 1000 * statistics.median(head),
        "cold_vs_forward": statistics.median(cold) * 1000 / baseline_ms,
        "cached_vs_forward": statistics.median(cached) * 1000 / baseline_ms,
        "ablation_ms": 1000 * statistics.median(ablated),
        "ablation_cached_ms": 1000 * statistics.median(ablated_again),
        "ablation_vs_forward": statistics.median(ablated) * 1000 / baseline_ms,
    }
    for key, value in report.items():
        print(f"{key:34s} {value:.3f}" if isinstance(value, float) else f"{key:34s} {value}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
