"""Search latency over the paper's 13 models (docs/architecture.md#performance-targets: p99 < 50 ms).

Writes 13 atlases with the shapes of the paper's models (layers, heads, modes, width, patch grid,
K = 16, both bases) and 1,000 classes, whose statistics hold random values: what a search reads (class
labels, the class → modes rankings, σ, cos, top-K indices, statistics) has its real size and layout,
while the arrays it never reads (maps, U, V, class means, histograms) are sparse zero files. Class
labels are the ImageNet class names of the sample photos' file names when ``--labels`` points at them
(``n01440764_tench.JPEG``), else ``class 0000`` … ``class 0999``. Then it starts ``python -m backend``
over them on loopback and times ``GET /api/search`` for class queries, name queries and the class
page, sequentially (``--requests`` each, after a warm-up) and with ``--clients`` concurrent clients.

    python benchmarks/search_bench.py [--labels DIR] [--requests 300] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from load_test import _free_port, _percentile, _wait_ready
from PIL import Image

from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import (
    FORMAT_VERSION,
    AtlasManifest,
    AtlasSummary,
    DatasetRecord,
    EffectsInfo,
    ImageRecord,
    ModelInfo,
    RunInfo,
    ScoringRule,
    StatisticsInfo,
)
from qkatlas.atlas.writer import AtlasWriter
from qkatlas.conventions import BASES, SIGNS
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.mode_statistics import BINNING_RULE, CLASS_MODES, N_BINS, SELECTIVITY_RULE, TOP_CLASSES
from qkatlas.models import model_slug
from qkatlas.models.source import ModelSource
from qkatlas.sample_photos import optional_sample_dir
from qkatlas.svd import DEGENERACY_RTOL, SIGN_RULE

ROOT = Path(__file__).resolve().parents[1]
#: The paper's 13 models: (hub id, layers, heads, width, patch size, image size).
PAPER_SHAPES = (
    ("google/vit-base-patch16-224", 12, 12, 768, 16, 224),
    ("google/vit-base-patch32-384", 12, 12, 768, 32, 384),
    ("google/vit-large-patch16-224", 24, 16, 1024, 16, 224),
    ("google/vit-large-patch32-384", 24, 16, 1024, 32, 384),
    ("google/vit-huge-patch14-224-in21k", 32, 16, 1280, 14, 224),
    ("facebook/dino-vits16", 12, 6, 384, 16, 224),
    ("facebook/dino-vitb16", 12, 12, 768, 16, 224),
    ("openai/clip-vit-base-patch16", 12, 12, 768, 16, 224),
    ("openai/clip-vit-base-patch32", 12, 12, 768, 32, 224),
    ("openai/clip-vit-large-patch14", 24, 16, 1024, 14, 224),
    ("facebook/deit-tiny-distilled-patch16-224", 12, 3, 192, 16, 224),
    ("facebook/deit-small-distilled-patch16-224", 12, 6, 384, 16, 224),
    ("facebook/deit-base-distilled-patch16-224", 12, 12, 768, 16, 224),
)
N_IMAGES, TOP_K, N_WINNERS = 50_000, 16, 2_000
SYNSET_NAME = re.compile(r"^n\d{8}_(.+)\.\w+$")


def class_labels(directory: Path | None, n: int = 1000) -> list[str]:
    names = sorted(
        {match.group(1).replace("_", " ") for path in directory.iterdir() if (match := SYNSET_NAME.match(path.name))}
        if directory and directory.is_dir()
        else set()
    )
    return names if len(names) >= 100 else [f"class {i:04d}" for i in range(n)]


def _sparse(path: Path, shape: tuple[int, ...], dtype: str) -> None:
    """A ``.npy`` file of zeros that takes no disk space (never read by a search)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape).flush()


def write_atlas(root: Path, spec: tuple[str, int, int, int, int, int], labels: list[str], seed: int) -> None:
    model_id, n_layers, n_heads, width, patch, size = spec
    rng = np.random.default_rng(seed)
    d_head, grid, n_bases, n_classes = width // n_heads, size // patch, len(BASES), len(labels)
    slug = fmt.atlas_slug(model_slug(model_id), "imagenet-val")
    partial = root / fmt.PARTIAL_DIR / slug
    writer = AtlasWriter(partial)
    manifest = AtlasManifest(
        format_version=FORMAT_VERSION,
        slug=slug,
        model_slug=model_slug(model_id),
        model=ModelInfo(
            model_id=model_id,
            family="hf_vit",
            n_layers=n_layers,
            n_heads=n_heads,
            d_model=width,
            d_head=d_head,
            patch_size=patch,
            image_size=size,
            prefix_kinds=("cls",),
            n_prefix=1,
            grid=grid,
        ),
        model_source=ModelSource(id=model_id, random_init=True, seed=seed),
        preprocessing=Preprocessing(size, size, "exact", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        bases=BASES,
        signs=SIGNS,
        scoring=ScoringRule(),
        sign_rule=SIGN_RULE,
        degeneracy_rtol=DEGENERACY_RTOL,
        top_k=TOP_K,
        dataset=DatasetRecord(name="imagenet-val", source="/data/val", layout="flat", n_images=N_IMAGES, n_skipped=0),
        skipped=(),
        run=RunInfo(
            device="cpu",
            dtype="float32",
            precision="fp32",
            batch_size=256,
            workers=8,
            processes=1,
            started="",
            finished="",
            wall_seconds=0.0,
            images_per_second=0.0,
            resumed=False,
        ),
        versions={},
        statistics=StatisticsInfo(
            n_bins=N_BINS,
            binning=BINNING_RULE,
            calibration_images=256,
            classes=tuple(labels),
            top_classes=TOP_CLASSES,
            class_modes=CLASS_MODES,
            selectivity=SELECTIVITY_RULE,
            samples=None,  # search reads none of them
        ),
        effects=EffectsInfo(computed=False),
        ties=None,  # search reads no runner-up
    )
    shapes = fmt.expected_shapes(manifest) | fmt.statistics_shapes(manifest)
    dtypes = {name: dtype for name, (_, dtype) in (*fmt.ARRAYS.items(), *fmt.STATISTICS_ARRAYS.items())}
    paths = {name: relative for name, (relative, _) in (*fmt.ARRAYS.items(), *fmt.STATISTICS_ARRAYS.items())}
    head_modes = (n_layers, n_heads, d_head)
    columns = (n_bases, *head_modes, 2)
    n_signed = int(np.prod(columns[1:]))
    winners = rng.choice(N_IMAGES, N_WINNERS, replace=False)
    values: dict[str, np.ndarray] = {
        "sigma": -np.sort(-rng.uniform(0.1, 10, head_modes), axis=-1),
        "cos": rng.uniform(-1, 1, head_modes),
        "degenerate": np.zeros(head_modes, dtype=bool),
        "query_offset": np.zeros(head_modes),
        "topk_indices": rng.choice(winners, (*columns, TOP_K)),
        "topk_scores": -np.sort(-rng.uniform(0, 100, (*columns, TOP_K)), axis=-1),
        "stats_count": np.full(columns, N_IMAGES),
        "stats_firing": rng.integers(0, N_IMAGES, columns),
        "stats_mean": rng.uniform(0, 10, columns),
        "stats_std": rng.uniform(1, 5, columns),
        "stats_min": np.zeros(columns),
        "stats_max": np.full(columns, 100.0),
        "stats_bin_low": np.zeros(columns),
        "stats_bin_width": np.ones(columns),
        "class_count": np.full(n_classes, N_IMAGES // n_classes),
        "class_top": rng.integers(0, n_classes, (*columns, TOP_CLASSES)),
        "class_top_selectivity": -np.sort(-rng.uniform(0, 5, (*columns, TOP_CLASSES)), axis=-1),
        "class_modes": rng.integers(0, n_signed, (n_classes, n_bases, CLASS_MODES)),
        "class_modes_selectivity": -np.sort(-rng.uniform(0, 5, (n_classes, n_bases, CLASS_MODES)), axis=-1),
    }
    for name, shape in shapes.items():
        if name in values:
            path = partial / paths[name]
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, values[name].astype(dtypes[name]).reshape(shape))
        else:
            _sparse(partial / paths[name], shape, dtypes[name])
    thumbnail = partial / fmt.thumbnail_name(int(winners[0]))
    Image.new("RGB", (size, size), (128, 128, 128)).save(thumbnail, format="JPEG")
    for index in winners[1:]:
        (partial / fmt.thumbnail_name(int(index))).hardlink_to(thumbnail)
    writer.write_images({int(i): ImageRecord(source=f"{i:08d}.JPEG", label=labels[i % n_classes]) for i in winners})
    writer.write_summary(
        AtlasSummary(
            normalized_depth=[layer / (n_layers - 1) for layer in range(n_layers)],
            layer_weighted_cos=[0.5] * n_layers,
            layer_unweighted_cos=[0.5] * n_layers,
            layer_weighted_cos_scaled=[0.5 / d_head] * n_layers,
            head_weighted_cos=[[0.5] * n_heads for _ in range(n_layers)],
            baseline_95=1.96 / width**0.5,
        )
    )
    writer.publish(manifest, root / slug)


def queries(labels: list[str]) -> dict[str, list[str]]:
    words = sorted({word for label in labels for word in label.split() if len(word) > 3})
    rng = np.random.default_rng(0)
    return {
        "class": [str(words[i]) for i in rng.integers(0, len(words), 50)] + ["retriever", "dog", "shark"],
        "name": ["L6 H2 M3", "vit-huge L10 H3 M2", "dino-vitb16 L6 H2", "clip", "deit-small l3h1m7 neg"],
        "class page": [f"/api/classes/{label}" for label in labels[:50]],
    }


async def _time(http: httpx.AsyncClient, paths: list[str], requests: int, clients: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(requests))

    async def client() -> None:
        for n in counter:
            start = time.perf_counter()
            response = await http.get(paths[n % len(paths)])
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{paths[n % len(paths)]}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def measure(base: str, by_kind: dict[str, list[str]], requests: int, clients: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for kind, texts in by_kind.items():
            paths = texts if kind == "class page" else [f"/api/search?{httpx.QueryParams(q=t)}" for t in texts]
            await _time(http, paths, len(paths), 1)  # warm-up: every path once
            for concurrency in (1, clients):
                latencies = await _time(http, paths, requests, concurrency)
                results[f"{kind}, {concurrency} client(s)"] = (
                    _percentile(latencies, 50),
                    _percentile(latencies, 99),
                )
    return results


@contextlib.contextmanager
def served(root: Path) -> Iterator[str]:
    """``python -m backend`` serving the atlases under ``root`` on a free port, once it answers: its base URL
    (the machine and the number of atlases served are printed)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "backend", "--atlas-dir", str(root), "--port", str(port), "--atlas-poll-s", "0"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = asyncio.run(_wait_ready(base, server))
        print(f"machine: {platform.processor() or platform.machine()}; {len(health['atlases'])} atlases served")
        yield base
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=optional_sample_dir("imagenet-samples"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--atlas-dir", type=Path, default=None, help="reuse atlases written by an earlier run")
    args = parser.parse_args()
    labels = class_labels(args.labels)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.atlas_dir or Path(tmp) / "atlases"
        if not root.exists():
            started = time.perf_counter()
            for seed, spec in enumerate(PAPER_SHAPES):
                write_atlas(root, spec, labels, seed)
            print(f"wrote {len(PAPER_SHAPES)} atlases in {time.perf_counter() - started:.0f} s", flush=True)
        with served(root) as base:
            print(f"{len(labels)} classes; {args.requests} requests per row")
            for row, (p50, p99) in asyncio.run(measure(base, queries(labels), args.requests, args.clients)).items():
                print(f"  {row:28s} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")


if __name__ == "__main__":
    main()
