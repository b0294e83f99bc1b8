"""Precompute benchmarks: every figure is a ratio against a baseline measured in the same run.

    python benchmarks/precompute_bench.py                      # CPU: small ViT, small batches
    python benchmarks/precompute_bench.py --model vit_base_patch16_224 --batch-size 256   # on a GPU

Prints (and writes as JSON with --json): forward-only vs precompute throughput on the same batches;
the job with the attention moved by each mode (``--effects``) vs without (section ``effects``);
the paper's per-image loop (batch 1, per-head projections) vs precompute; decode ceiling vs end to end
from JPEG files; factored vs full SVD of every head; peak RSS of the job for two image counts.
Weights are random (no download); timings do not depend on the values.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from precompute.job import run_job
from precompute.job_config import JobConfig
from qkatlas.conventions import BASES, Basis
from qkatlas.device import autocast, compute_dtype, resolve_device
from qkatlas.distribution_samples import RunningSamples, sample_keys
from qkatlas.images import iter_batches, load_image_file, open_image_source
from qkatlas.mode_effects import EffectKernel, RunningEffects
from qkatlas.mode_statistics import N_BINS, STATISTICS_CHUNK, HistogramBins, RunningStatistics
from qkatlas.models import load_model
from qkatlas.models.base import ViTAdapter
from qkatlas.models.known_models import PAPER_MODELS
from qkatlas.sample_photos import optional_sample_dir
from qkatlas.scoring import ModeKernel, TopKScorer
from qkatlas.svd import Decomposition, decompose, full_svd
from qkatlas.topk import RunningTopK

DEFAULT_IMAGES = optional_sample_dir("imagenet-samples")
SECTIONS = ("throughput", "effects", "decode", "svd", "multi", "rss")
#: The multi-model case's default on a CPU: three paper families whose preprocessing differs (DeiT
#: 256 → 224, CLIP shortest edge + crop, ViT at 384 px), two blocks each.
MULTI_MODELS = (
    "facebook/deit-tiny-distilled-patch16-224",
    "openai/clip-vit-base-patch32",
    "google/vit-base-patch32-384",
)
MULTI_OVERRIDES: dict[str, object] = {"num_hidden_layers": 2}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


#: The precompute variants ``forward_vs_precompute`` can time, by label: the projection bases they use,
#: whether the top-K merges compactly (``None``: the device's default, fixed-shape on a GPU), and
#: whether per-mode statistics ride along (over ``STATISTICS_CLASSES`` classes, as ImageNet has).
#: label → (bases, compact merges (None: the device's default), statistics: None, "with samples" or
#: "without samples" (their update left out, to measure what the distribution samples cost), whether the
#: attention moved by each mode is measured (``--effects``)).
PRECOMPUTE_VARIANTS: dict[str, tuple[tuple[Basis, ...], bool | None, str | None, bool]] = {
    "precompute": (BASES, None, None, False),
    "precompute_with_statistics": (BASES, None, "with samples", False),
    "precompute_with_statistics_without_samples": (BASES, None, "without samples", False),
    "precompute_faithful_only": ((Basis.faithful,), None, None, False),
    "precompute_exact_only": ((Basis.exact,), None, None, False),
    "precompute_compact_merges": (BASES, True, None, False),
    "precompute_with_effects": (BASES, None, "with samples", True),
}
#: The ``effects`` section: the job as it runs by default (statistics kept) with and without effects.
EFFECTS_VARIANTS = ("precompute_with_statistics", "precompute_with_effects")
STATISTICS_CLASSES = 1000


class _SamplesLeftOut(RunningSamples):
    """Distribution samples whose update does nothing: the statistics without them, for the ratio."""

    def update_columns(
        self, columns: slice, bands: torch.Tensor, scores: torch.Tensor, fires: torch.Tensor, keys: torch.Tensor
    ) -> torch.Tensor:
        return torch.zeros(len(keys), dtype=torch.bool, device=keys.device)


def samples_update_seconds(n_columns: int, batch_size: int, device: torch.device, repeats: int) -> float:
    """Median seconds of the distribution samples' update for one batch over every column, alone (random
    scores and bins, new dataset indices each round, in the job's column chunks): a steadier measure of
    their cost than the difference of two whole-job rates, which the machine's noise can swamp."""
    samples = RunningSamples(n_columns, N_BINS, device)
    times = []
    for round_ in range(repeats + 2):  # two warm-up rounds
        scores = torch.randn(batch_size, n_columns, device=device)
        bands = samples.band_of_bin(torch.randint(-1, N_BINS + 1, (batch_size, n_columns), device=device))
        keys = sample_keys(torch.arange(round_ * batch_size, (round_ + 1) * batch_size, device=device))
        _sync(device)
        start = time.perf_counter()
        for first in range(0, n_columns, STATISTICS_CHUNK):
            columns = slice(first, min(first + STATISTICS_CHUNK, n_columns))
            samples.update_columns(columns, bands[:, columns], scores[:, columns], scores[:, columns] > 0, keys)
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def forward_vs_precompute(
    adapter: ViTAdapter,
    batch_size: int,
    repeats: int,
    warmup: int = 4,
    *,
    variants: tuple[str, ...] = tuple(PRECOMPUTE_VARIANTS),
    top_k: int = 16,
    dec: Decomposition | None = None,
) -> dict[str, float]:
    """Median per-batch throughput of the plain forward pass and of precompute variants, interleaved
    round by round so that both see the same machine state. Every batch is new random images with new
    indices, so the top-K keeps changing as in a real stream; after ``warmup`` batches the timed rounds
    sit early in the stream, where it changes most (a conservative measure of keeping the maps).
    ``variants``: labels of ``PRECOMPUTE_VARIANTS``; ``dec``: the decomposition, when already made."""
    device = adapter.device
    dec = dec if dec is not None else decompose(adapter.weights())
    size = adapter.preprocessing.crop

    def new_batch() -> torch.Tensor:
        return torch.randint(0, 256, (batch_size, 3, size, size), dtype=torch.uint8, device=device)

    def forward(batch: torch.Tensor) -> None:
        with autocast(device, compute_dtype(device)):
            adapter.forward(adapter.normalize(batch))

    runs: dict[str, Callable[[torch.Tensor], None]] = {"forward": forward}
    n_columns: dict[str, int] = {}
    for label in variants:
        bases, compact, statistics_kind, with_effects = PRECOMPUTE_VARIANTS[label]
        scorer = TopKScorer(ModeKernel(adapter, dec, bases), EffectKernel(adapter, dec) if with_effects else None)
        n_columns[label] = scorer.n_columns
        topk = scorer.new_top_k(top_k, compact=compact)
        first_index = itertools.count(0, batch_size)
        running = (
            RunningStatistics(HistogramBins.from_calibration(scorer.scores(new_batch())[0]), STATISTICS_CLASSES, device)
            if statistics_kind is not None
            else None
        )
        if running is not None and statistics_kind == "without samples":
            running.samples = _SamplesLeftOut(scorer.n_columns, N_BINS, device)
        effects = None
        if scorer.effects is not None:
            sample = scorer.calibration_sample(new_batch())[1]
            assert sample is not None
            effects = RunningEffects(HistogramBins.from_calibration(sample), device)

        def step(
            batch: torch.Tensor,
            scorer: TopKScorer = scorer,
            topk: RunningTopK = topk,
            first: Iterator[int] = first_index,
            running: RunningStatistics | None = running,
            effects: RunningEffects | None = effects,
        ) -> None:
            start = next(first)
            indices = torch.arange(start, start + batch_size, device=device)
            classes = indices % STATISTICS_CLASSES if running is not None else None
            scorer.score(batch, indices, topk, running, classes, effects).cpu()  # as the job

        for _ in range(warmup):
            step(new_batch())
        runs[label] = step
    forward(new_batch())
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            batch = new_batch()
            _sync(device)
            start = time.perf_counter()
            run(batch)
            _sync(device)
            seconds[name].append(time.perf_counter() - start)
    rates = {name: batch_size / statistics.median(times) for name, times in seconds.items()}
    results = {"forward_img_s": rates["forward"]}
    for name, rate in rates.items():
        if name != "forward":
            results[f"{name}_img_s"] = rate
            results[f"{name}_vs_forward"] = rate / rates["forward"]
    if "precompute" in rates and "precompute_with_statistics" in rates:
        results["statistics_vs_without"] = rates["precompute_with_statistics"] / rates["precompute"]
    if "precompute_with_effects" in rates and "precompute_with_statistics" in rates:
        # The job with effects against the same job without them (statistics kept in both, as by default).
        results["effects_vs_without"] = rates["precompute_with_effects"] / rates["precompute_with_statistics"]
    if "precompute_with_statistics_without_samples" in rates and "precompute_with_statistics" in rates:
        results["samples_vs_without"] = (
            rates["precompute_with_statistics"] / rates["precompute_with_statistics_without_samples"]
        )
        columns = n_columns["precompute_with_statistics"]
        update = samples_update_seconds(columns, batch_size, device, repeats)
        results["samples_update_ms"] = update * 1000
        # Their share of a batch of the job with statistics: 1 − share is the ratio the update alone allows.
        results["samples_update_share"] = update / (batch_size / rates["precompute_with_statistics"])
    return results


def paper_loop(adapter: ViTAdapter, batch: torch.Tensor, n_images: int) -> float:
    """The paper's per-image reference loop: batch 1, per-head projections, Python top-K heaps."""
    dec = decompose(adapter.weights())
    spec, device = adapter.spec, adapter.device
    u = torch.from_numpy(dec.U).float().to(device)  # [L, H, M, d]
    v = torch.from_numpy(dec.V).float().to(device)
    heaps: dict[tuple[int, int, int, int], list[tuple[float, int]]] = {}

    def one_image(index: int) -> None:
        captured: list[torch.Tensor] = []
        adapter.run_with_capture(
            adapter.normalize(batch[index % len(batch)].unsqueeze(0)), lambda _l, r, _n: captured.append(r)
        )
        for layer, residual in enumerate(captured):
            patches = residual[0, spec.n_prefix :].float()
            for head in range(spec.n_heads):
                q = patches @ u[layer, head].T
                k = patches @ v[layer, head].T
                pos = (q.max(0).values * k.max(0).values).tolist()
                neg = (q.min(0).values * k.min(0).values).tolist()
                for mode in range(spec.d_head):
                    for sign, score in ((0, pos[mode]), (1, neg[mode])):
                        heap = heaps.setdefault((layer, head, mode, sign), [])
                        heapq.heappush(heap, (score, index))
                        if len(heap) > 16:
                            heapq.heappop(heap)

    one_image(0)
    _sync(device)
    start = time.perf_counter()
    for index in range(n_images):
        one_image(index)
    _sync(device)
    return n_images / (time.perf_counter() - start)


def decode_vs_end_to_end(
    adapter: ViTAdapter, images: Path, batch_size: int, workers: int, limit: int
) -> dict[str, float]:
    source = open_image_source(images, limit=limit)
    prep = adapter.preprocessing
    start = time.perf_counter()
    n = sum(len(b.indices) for b in iter_batches(source, prep, batch_size=batch_size, workers=workers))
    decode = n / (time.perf_counter() - start)
    dec = decompose(adapter.weights())
    scorer = TopKScorer(ModeKernel(adapter, dec, BASES))
    topk = scorer.new_top_k(16)
    start = time.perf_counter()
    for batch in iter_batches(
        source, prep, batch_size=batch_size, workers=workers, pin_memory=adapter.device.type == "cuda"
    ):
        scorer.score(batch.images, batch.indices, topk).cpu()  # the job fetches the mask once per batch
    _sync(adapter.device)
    end_to_end = n / (time.perf_counter() - start)
    return {
        "decode_ceiling_img_s": decode,
        "end_to_end_img_s": end_to_end,
        "end_to_end_vs_decode": end_to_end / decode,
        "n_files": n,
    }


def svd_timing(repeats: int = 3) -> dict[str, float]:
    """All 144 heads of ViT-B/16 (random weights), factored vs full, float64 on the CPU."""
    adapter = load_model("vit_base_patch16_224", random_init=True)
    weights = adapter.weights()
    factored = min(_timed(lambda: decompose(weights)) for _ in range(repeats))
    w_q = torch.stack([w.w_q for w in weights])
    w_k = torch.stack([w.w_k for w in weights])
    full = _timed(lambda: full_svd(w_q, w_k))
    return {"svd_factored_s": factored, "svd_full_s": full, "svd_speedup": full / factored}


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def peak_rss_of_job(model: str, images: Path, n_images: int, batch_size: int, workers: int, device: str) -> float:
    """Run the real job in a subprocess over ``n_images`` (files repeated) and return its peak RSS in MiB."""
    files = sorted(item.path for item in open_image_source(images).items)
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "images.txt"
        listing.write_text("".join(f"{files[i % len(files)]}\n" for i in range(n_images)))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) parent across fork + exec.
        code = (
            "import sys; from precompute.cli import main; rc = main(sys.argv[1:]); "
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))); sys.exit(rc)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, "--model", model, "--random-init", "--images", str(listing), "--out", tmp,
             "--batch-size", str(batch_size), "--workers", str(workers), "--device", device, "--no-progress"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(result.stdout.strip().splitlines()[-1]) / 1024


def _decode_only(path: Path) -> int:
    """Decode one file, keep nothing (the part of the work that models sharing a stream share)."""
    return load_image_file(path).width


def multi_model_job(
    models: tuple[str, ...],
    images: Path,
    n_images: int,
    *,
    batch_size: int,
    workers: int,
    device: torch.device,
    overrides: dict[str, object],
) -> dict[str, float]:
    """One job for all ``models`` against N single-model jobs and against the sum of the models'
    forward-only time, on the same ``n_images`` files (the folder's files repeated), in this run.

    The job and the single jobs include loading and decomposing their models; the forward-only time
    runs on batches decoded beforehand. ``decode_only_s`` is one decoding of the files without any
    resize: what a shared stream saves per extra model."""
    files = sorted(item.path for item in open_image_source(images).items)
    paths = [files[i % len(files)] for i in range(n_images)]
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "images.txt"
        listing.write_text("".join(f"{path}\n" for path in paths))
        source = open_image_source(listing)

        def job(ids: tuple[str, ...]) -> float:
            config = JobConfig(
                models=ids,
                images=str(listing),
                out=Path(tmp) / "atlases",
                batch_size=batch_size,
                device=str(device),
                workers=workers,
                random_init=True,
                overrides=dict(overrides),
                show_progress=False,
            )
            return _timed(lambda: run_job(config))

        start = time.perf_counter()
        if workers > 0:
            with ProcessPoolExecutor(workers) as pool:
                list(pool.map(_decode_only, paths, chunksize=16))
        else:
            for path in paths:
                _decode_only(path)
        decode_only = time.perf_counter() - start
        forward = 0.0
        for model in models:
            adapter = load_model(model, random_init=True, overrides=dict(overrides)).to(device)
            adapter.module.eval()
            batches = [
                b.images for b in iter_batches(source, adapter.preprocessing, batch_size=batch_size, workers=workers)
            ]
            with autocast(device, compute_dtype(device)):
                adapter.forward(adapter.normalize(batches[0].to(device)))  # warm-up
                _sync(device)
                start = time.perf_counter()
                for images_batch in batches:
                    adapter.forward(adapter.normalize(images_batch.to(device, non_blocking=True)))
                _sync(device)
            forward += time.perf_counter() - start
            del adapter, batches
        singles = sum(job((model,)) for model in models)
        together = job(models)
    shared = (len(models) - 1) * decode_only
    return {
        "multi_n_models": len(models),
        "multi_n_images": n_images,
        "multi_job_s": together,
        "multi_single_jobs_s": singles,
        "multi_forward_only_s": forward,
        "multi_decode_only_s": decode_only,
        "multi_vs_single_jobs": together / singles,
        "multi_vs_single_jobs_minus_shared_decoding": together / (singles - shared),
        "multi_vs_forward_only": forward / together,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="vit_small_patch16_224")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (medians are reported)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="JPEG folder for the decode benchmark")
    parser.add_argument("--limit", type=int, default=256, help="JPEG files for the decode benchmark")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--paper-images", type=int, default=4)
    parser.add_argument("--rss-counts", default="64,256")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--multi-models",
        default=",".join(MULTI_MODELS),
        help="comma-separated models of the multi-model case ('paper' for the paper's 13)",
    )
    parser.add_argument(
        "--multi-overrides",
        type=json.loads,
        default=MULTI_OVERRIDES,
        help="JSON config overrides for the multi-model case (default shrinks the models for a CPU; {} on a GPU)",
    )
    parser.add_argument("--multi-images", type=int, default=128, help="images of the multi-model case")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections to run ({','.join(SECTIONS)})"
    )
    args = parser.parse_args()
    sections = set(args.only.split(","))

    device = resolve_device(args.device)
    adapter = load_model(args.model, random_init=True).to(device)
    adapter.module.eval()
    size = adapter.preprocessing.crop
    batch = torch.randint(0, 256, (args.batch_size, 3, size, size), dtype=torch.uint8, device=device)
    report: dict[str, object] = {}

    def record(**values: object) -> None:
        """Print each figure as soon as it is measured (the whole run takes minutes on a CPU)."""
        for key, value in values.items():
            print(f"{key:36s} {value:.3f}" if isinstance(value, float) else f"{key:36s} {value}", flush=True)
        report.update(values)

    record(
        machine=f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        + (torch.cuda.get_device_name() if device.type == "cuda" else "CPU"),
        model=args.model,
        batch_size=args.batch_size,
        device=str(device),
    )
    if "effects" in sections:
        # Every variant but the effects one is timed by "throughput"; this section times the two the
        # effects' ratio needs (the effects are slow on a CPU: one warm-up batch).
        record(**forward_vs_precompute(adapter, args.batch_size, args.repeats, warmup=1, variants=EFFECTS_VARIANTS))
    if "throughput" in sections:
        variants = tuple(label for label in PRECOMPUTE_VARIANTS if label not in EFFECTS_VARIANTS[1:])
        throughput = forward_vs_precompute(adapter, args.batch_size, args.repeats, variants=variants)
        record(**throughput)
        paper = paper_loop(adapter, batch, args.paper_images)
        record(paper_loop_img_s=paper, precompute_vs_paper_loop=throughput["precompute_img_s"] / paper)
    if "decode" in sections and args.images.is_dir():
        record(**decode_vs_end_to_end(adapter, args.images, args.batch_size, args.workers, args.limit))
    if "svd" in sections:
        record(**svd_timing())
    if "multi" in sections and args.images.is_dir():
        models = PAPER_MODELS if args.multi_models == "paper" else tuple(args.multi_models.split(","))
        record(
            **multi_model_job(
                models,
                args.images,
                args.multi_images,
                batch_size=args.batch_size,
                workers=args.workers,
                device=device,
                overrides=args.multi_overrides,
            )
        )
    if "rss" in sections and args.images.is_dir():
        counts = [int(c) for c in args.rss_counts.split(",")]
        record(
            peak_rss_mib={
                n: peak_rss_of_job(args.model, args.images, n, args.batch_size, args.workers, str(device))
                for n in counts
            }
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
