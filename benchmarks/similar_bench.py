"""Latency of the similar modes (`GET /api/models/{m}/layers/{l}/heads/{h}/modes/{n}/similar`) over the paper's
13 models on one dataset (docs/architecture.md#performance-targets: < 100 ms on 2 cores).

Writes the 13 paper-shaped atlases of ``search_bench.py`` (1,000 classes, K = 16, both bases; what the
service never reads is a sparse zero file), then fills the faithful basis of each one's class means
(``stats/class_mean.npy``, float32 ``[C, B, L, H, M, 2]``) with random values of a shared low-rank
structure (so that modes of different models correlate, as real ones would), leaving the exact basis
sparse: 1.45 GB of class means over 181,500 modes × 2 signs are read per request. Then it starts
``python -m backend`` over them on loopback and times, for random signed modes of random models:

- cold: the first request after the service opened the atlases (it computes, once per atlas revision and
  basis, every column's mean and norm over the classes: the 13 atlases' whole class means are read);
- the first request of each further model is no longer cold (every atlas on the dataset was summarised);
- warm: ``--requests`` requests, one at a time, each for another mode;
- then, with the server stopped, the service call alone in this process (no HTTP, no JSON).

The page cache holds the class means (just written, and read by the cold request): a service whose
atlases were evicted from memory reads them from disk on its next request.

    python benchmarks/similar_bench.py [--requests 200] [--atlas-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from load_test import _percentile
from search_bench import PAPER_SHAPES, class_labels, served, write_atlas

from backend.services.similar_modes import SimilarModeIndex
from qkatlas.atlas import find_atlases
from qkatlas.atlas.statistics import SignedMode
from qkatlas.conventions import Basis, Sign

N_CLASSES = 1000
#: Rank of the class structure shared by every model's class means.
SHARED_RANK = 16


def fill_class_means(root: Path) -> int:
    """Random class means in the faithful basis of every atlas under ``root``; returns the signed modes."""
    shared = np.random.default_rng(0).standard_normal((N_CLASSES, SHARED_RANK)).astype(np.float32)
    total = 0
    atlases, failures = find_atlases(root)
    assert not failures, failures
    for seed, atlas in enumerate(atlases):
        path = atlas.path / "stats" / "class_mean.npy"
        class_mean = np.load(path, mmap_mode="r+")  # [C, B, L, H, M, 2]
        n_columns = int(np.prod(class_mean.shape[2:]))
        rng = np.random.default_rng(100 + seed)
        loadings = rng.standard_normal((SHARED_RANK, n_columns)).astype(np.float32)
        for start in range(0, N_CLASSES, 100):
            block = shared[start : start + 100] @ loadings
            block += 2.0 * rng.standard_normal(block.shape, dtype=np.float32) + 10.0
            class_mean[start : start + 100, 0] = block.reshape(block.shape[0], *class_mean.shape[2:])
        class_mean.flush()
        del class_mean
        total += n_columns
    return total


def mode_paths(root: Path, n: int, seed: int) -> list[str]:
    atlases, _ = find_atlases(root)
    rng = np.random.default_rng(seed)
    paths = []
    for _ in range(n):
        atlas = atlases[int(rng.integers(len(atlases)))]
        layer, head, mode = (int(rng.integers(k)) for k in (atlas.n_layers, atlas.n_heads, atlas.n_modes))
        sign = ("pos", "neg")[int(rng.integers(2))]
        paths.append(f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{mode}/similar?sign={sign}")
    return paths


async def timed(http: httpx.AsyncClient, path: str) -> float:
    start = time.perf_counter()
    response = await http.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")
    body = response.json()
    assert body["unavailable"] is None and len(body["models"]) == len(PAPER_SHAPES), body["unavailable"]
    return elapsed


async def measure(base: str, root: Path, requests: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        cold = await timed(http, mode_paths(root, 1, seed=1)[0])
        print(f"  cold (first request; summarises 13 atlases)  {cold:8.1f} ms")
        second = await timed(http, mode_paths(root, 1, seed=2)[0])
        print(f"  second request                               {second:8.1f} ms")
        latencies = [await timed(http, path) for path in mode_paths(root, requests, seed=3)]
        print(
            f"  warm, {requests} requests: p50 {_percentile(latencies, 50):6.1f} ms   "
            f"p90 {_percentile(latencies, 90):6.1f} ms   p99 {_percentile(latencies, 99):6.1f} ms   "
            f"max {max(latencies):6.1f} ms"
        )


def in_process(root: Path, requests: int) -> None:
    """The service call alone (no HTTP, no JSON), on the same kind of random modes, after its cold call."""
    atlases, _ = find_atlases(root)
    index = SimilarModeIndex()
    rng = np.random.default_rng(4)

    def call() -> float:
        atlas = atlases[int(rng.integers(len(atlases)))]
        layer, head, mode = (int(rng.integers(k)) for k in (atlas.n_layers, atlas.n_heads, atlas.n_modes))
        start = time.perf_counter()
        index.similar(atlas, atlases, SignedMode(layer, head, mode, Sign.pos), Basis.faithful, 5)
        return (time.perf_counter() - start) * 1000

    def products() -> float:
        """The floor: the 13 float32 matrix-vector products alone, over the same memory-mapped class means."""
        query = rng.standard_normal(N_CLASSES).astype(np.float32)
        start = time.perf_counter()
        for atlas in atlases:
            class_mean = atlas.arrays["class_mean"]
            query @ class_mean[:, 0].reshape(N_CLASSES, -1)
        return (time.perf_counter() - start) * 1000

    cold = call()
    latencies = [call() for _ in range(requests)]
    floor = [products() for _ in range(max(requests // 10, 5))]
    print(
        f"  in-process service call: cold {cold:8.1f} ms; warm p50 {_percentile(latencies, 50):6.1f} ms   "
        f"p90 {_percentile(latencies, 90):6.1f} ms; the 13 products alone p50 {_percentile(floor, 50):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--atlas-dir", type=Path, default=None, help="reuse atlases written by an earlier run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.atlas_dir or Path(tmp) / "atlases"
        if not root.exists():
            started = time.perf_counter()
            for seed, spec in enumerate(PAPER_SHAPES):
                write_atlas(root, spec, class_labels(None, N_CLASSES), seed)
            n_columns = fill_class_means(root)
            print(
                f"wrote {len(PAPER_SHAPES)} atlases ({n_columns:,} signed modes per basis, {N_CLASSES:,} classes) "
                f"in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
        with served(root) as base:
            print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
            asyncio.run(measure(base, root, args.requests))
            print(f"load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
        in_process(root, args.requests)
        print(f"load average after the in-process calls: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
