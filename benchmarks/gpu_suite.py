"""Every GPU figure of docs/architecture.md#performance-targets in one run: random weights, a few
hundred real JPEGs, ratios measured against baselines in the same run.

    bash benchmarks/gpu_suite.sh --images DIR --out DIR             # on a CUDA machine (~3-5 min on an H200)
    bash benchmarks/gpu_suite.sh --smoke --images DIR --out DIR     # CPU: tiny models, every section runs
    bash benchmarks/gpu_suite.sh --only a,c2 ...                    # some sections only

Sections (each one's failure prints its traceback and the others go on; CUDA-only ones say
"skipped: no CUDA" on a CPU; later ones are skipped, and say so, once ``--budget-s`` is spent,
counted from ``$SUITE_T0`` (epoch seconds) when set):

a. ViT-B/16 (and ViT-S/16) batch 256 bf16: forward-only img/s vs precompute img/s (both bases,
   faithful only, exact only), interleaved rounds, medians (``precompute_bench.forward_vs_precompute``);
b. the paper's per-image loop (``precompute_bench.paper_loop``) and precompute / loop;
c. decode ceilings and the job end to end from the JPEG files (the files cycled to 3,072 items):
   c1 with Pillow in ``--workers`` processes (the job's loader), c2 with nvJPEG
   (``qkatlas.images.iter_device_batches``: ``torchvision.io.decode_jpeg(device='cuda')``, batched,
   + resize and centre crop on the GPU; libjpeg on the CPU in --smoke), in line (the job's default)
   and decoded ahead by a thread, both end to end in one run; c3 how those pixels differ from the Pillow path's
   (uint8) and what that does to the scores and the top-K of a model;
d. one upload's full analysis (``qkatlas.analysis.ImageAnalyzer.analyze``), median ms;
f. host synchronizations per ``TopKScorer.score`` call (``torch.cuda.set_sync_debug_mode``);
e. the paper's 13 models: forward and precompute img/s each, and the extrapolated 50,000-image job;
h. the real job (``precompute.job.run_job``) with the paper's 13 models over 2,048 items from the JPEG
   files to published atlases, extrapolated to 50,000 images;
p. the job's precision (``--precision``): for each of bf16, tf32 and fp32, the forward and scoring
   img/s of the main model, the agreement of its scores of the photos with float32 at full precision
   (top-1, top-K sets, top-K overlap, as c3), the tie check's ε and what it flags, and the default it
   recommends;
g. ``torch.compile`` of the ViT-B forward (in a subprocess with a timeout), last.

Figures are printed as measured and ``OUT/results.json`` is rewritten after every one, so a run cut
short still leaves what it measured. Never imports the service's packages (redis, fastapi, uvicorn):
the GPU machine it was written for has none; pydantic travels with it as a wheel.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from precompute_bench import forward_vs_precompute, paper_loop
from torchvision.io import ImageReadMode, decode_jpeg, read_file
from write_bench import disk_write_rate

from precompute.job import JobTimings, run_job
from precompute.job_config import JobConfig
from qkatlas.analysis import ImageAnalyzer
from qkatlas.conventions import BASES, Basis
from qkatlas.device import (
    PRECISIONS,
    Precision,
    autocast,
    compute_dtype,
    precision_dtype,
    precision_scope,
    resolve_device,
    resolve_precision,
)
from qkatlas.images import (
    DecodeCounts,
    ImageSource,
    iter_batches,
    iter_device_batches,
    load_image_file,
    open_image_source,
    tensor_to_model_input,
    to_model_input,
)
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.models import load_model
from qkatlas.models.base import ViTAdapter
from qkatlas.models.known_models import PAPER_MODELS
from qkatlas.sample_photos import optional_sample_dir
from qkatlas.scoring import QK_PATH_COND_LIMIT, ModeKernel, TopKScorer
from qkatlas.svd import Decomposition, decompose
from qkatlas.ties import analytic_rounding, measured_rounding
from qkatlas.topk import RunningTopK

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = next(
    (p for p in (ROOT / "carry" / "images", optional_sample_dir("imagenet-samples")) if p.is_dir()),
    ROOT / "carry" / "images",
)
N_JOB_IMAGES = 50_000  # performance target: the paper's 13 models over 50,000 ImageNet images in < 10 min


@dataclass(frozen=True)
class Config:
    smoke: bool
    device: str
    images: Path
    n_files: int  # distinct JPEG files used
    budget_s: float
    model: str = "vit_base_patch16_224"
    overrides: dict[str, Any] = field(default_factory=dict)
    small_model: str | None = "vit_small_patch16_224"
    small_overrides: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 256
    repeats: int = 15
    warmup: int = 4
    paper_images: int = 20
    decode_items: int = 3072  # items streamed by the decode measures (the files, repeated)
    workers: int = 16
    read_workers: int = 4  # file-reading threads of the GPU decoding (iter_device_batches)
    prefetch: int = 2  # batches it decodes ahead
    analyze_repeats: int = 20
    models: tuple[str, ...] = ()
    model_overrides: dict[str, Any] = field(default_factory=dict)
    model_batch: int = 256
    model_batch_large: int = 128  # d_model >= 1024 (ViT-L, ViT-H, CLIP-L)
    model_repeats: int = 5
    model_warmup: int = 2
    top_k: int = 16
    sync_batches: int = 4
    job_images: int = 2048  # items of the real multi-model job (section h)
    disk_probe_mb: int = 2048  # MiB section h writes with O_DIRECT to measure the disk's rate
    compile: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        workers = args.workers if args.workers is not None else min(16, os.cpu_count() or 1)
        if args.smoke:
            return cls(
                smoke=True,
                device=args.device,
                images=args.images,
                n_files=args.files or 16,
                budget_s=args.budget_s or 900.0,
                model="vit_small_patch16_224",
                overrides={"depth": 2},
                small_model="vit_tiny_patch16_224",
                small_overrides={"depth": 1},
                batch_size=4,
                repeats=2,
                warmup=1,
                paper_images=2,
                decode_items=32,
                workers=min(workers, 2),
                read_workers=2,
                analyze_repeats=2,
                models=("facebook/deit-tiny-distilled-patch16-224", "facebook/dino-vits16"),
                model_overrides={"num_hidden_layers": 2},
                model_batch=4,
                model_batch_large=2,
                model_repeats=2,
                model_warmup=1,
                sync_batches=2,
                job_images=16,
                disk_probe_mb=64,
                compile=args.compile,
            )
        return cls(
            smoke=False,
            device=args.device,
            images=args.images,
            n_files=args.files or 384,
            budget_s=args.budget_s or 330.0,
            workers=workers,
            models=PAPER_MODELS,
            compile=not args.no_compile,
        )


class Suite:
    """Runs sections under a time budget, records figures and rewrites ``results.json`` after each."""

    def __init__(self, config: Config, out: Path) -> None:
        self.config = config
        self.out = out
        self.t0 = float(os.environ.get("SUITE_T0") or time.time())
        self.device = resolve_device(config.device)
        self.cuda = self.device.type == "cuda"
        self.report: dict[str, Any] = {
            "machine": {},
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
            "status": {},
            "sections": {},
        }
        self._vit: tuple[ViTAdapter, Decomposition] | None = None
        self._files: list[Path] | None = None

    # -- bookkeeping --------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.time() - self.t0

    def remaining(self) -> float:
        return self.config.budget_s - self.elapsed()

    def record(self, section: str, **values: Any) -> None:
        for key, value in values.items():
            shown = f"{value:.4g}" if isinstance(value, float) else json.dumps(value, default=str)
            print(f"[{section}] {key:34s} {shown}", flush=True)
        self.report["sections"].setdefault(section, {}).update(values)
        self.save()

    def save(self) -> None:
        self.report["elapsed_s"] = round(self.elapsed(), 1)
        path = self.out / "results.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.report, indent=1, default=str))
        os.replace(tmp, path)

    def status(self, section: str, text: str) -> None:
        print(f"[{section}] == {text}", flush=True)
        self.report["status"][section] = text
        self.save()

    def run(self, section: str, fn: Callable[[Suite], None], *, needs_cuda: bool = False, min_s: float = 5.0) -> None:
        print(f"\n===== {section} (t = {self.elapsed():.0f} s) =====", flush=True)
        if needs_cuda and not self.cuda:
            self.status(section, "skipped: no CUDA")
            return
        if self.remaining() < min_s:
            self.status(section, f"skipped: time budget ({self.elapsed():.0f} of {self.config.budget_s:.0f} s used)")
            return
        start = time.perf_counter()
        try:
            fn(self)
            outcome = "ok"
        except Exception as error:
            traceback.print_exc()
            outcome = f"failed: {type(error).__name__}: {error}"[:500]
        finally:
            gc.collect()
            if self.cuda:
                torch.cuda.empty_cache()
        self.record(section, section_s=round(time.perf_counter() - start, 2))
        self.status(section, outcome)

    # -- shared inputs ------------------------------------------------------------------------------

    def vit(self) -> tuple[ViTAdapter, Decomposition]:
        """The main model (ViT-B/16; random weights) on the device, and its decomposition."""
        if self._vit is None:
            adapter = load_model(self.config.model, random_init=True, overrides=self.config.overrides or None)
            adapter.to(self.device).module.eval()
            self._vit = adapter, decompose(adapter.weights())
        return self._vit

    def drop_vit(self) -> None:
        self._vit = None
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()

    def files(self) -> list[Path]:
        """The first ``n_files`` JPEGs of ``--images`` (sorted)."""
        if self._files is None:
            items = open_image_source(self.config.images).items
            jpegs = [item.path for item in items if item.path.suffix.lower() in (".jpg", ".jpeg")]
            if not jpegs:
                raise RuntimeError(f"no JPEG files under {self.config.images}")
            self._files = jpegs[: self.config.n_files]
        return self._files

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------------
# machine
# ------------------------------------------------------------------------------------------------


def machine(suite: Suite) -> None:
    import importlib.metadata as metadata

    import timm
    import transformers

    versions: dict[str, str | None] = {}
    for package in ("torch", "torchvision", "timm", "transformers", "huggingface_hub", "numpy", "pillow", "regex"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "device": str(suite.device),
        "versions": versions,
        "module_files": {module.__name__: module.__file__ for module in (timm, transformers, torch)},
        "module_versions": {module.__name__: module.__version__ for module in (timm, transformers, torch)},
    }
    if suite.cuda:
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu=torch.cuda.get_device_name(0),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            gpu_sms=props.multi_processor_count,
            cuda=torch.version.cuda,
            capability=".".join(map(str, torch.cuda.get_device_capability(0))),
        )
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit",
                 "--format=csv,noheader"],
                capture_output=True, text=True, timeout=10,
            )  # fmt: skip
            info["nvidia_smi"] = smi.stdout.strip()
        except (OSError, subprocess.SubprocessError) as error:
            info["nvidia_smi"] = f"unavailable: {error}"
    try:
        info["dev_shm_gib"] = round(shutil.disk_usage("/dev/shm").total / 2**30, 2)  # DataLoader workers use it
    except OSError:
        info["dev_shm_gib"] = None
    suite.report["machine"] = info
    suite.record("machine", **info)


# ------------------------------------------------------------------------------------------------
# a, b: forward vs precompute, the paper's loop
# ------------------------------------------------------------------------------------------------


def _memory(suite: Suite) -> dict[str, float]:
    if not suite.cuda:
        return {}
    return {"peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def section_forward(suite: Suite) -> None:
    cfg = suite.config
    adapter, dec = suite.vit()
    if suite.cuda:
        torch.cuda.reset_peak_memory_stats()
    suite.record("a_forward_vs_precompute", model=cfg.model, batch_size=cfg.batch_size, dtype=_dtype(suite))
    results = forward_vs_precompute(adapter, cfg.batch_size, cfg.repeats, cfg.warmup, top_k=cfg.top_k, dec=dec)
    suite.record("a_forward_vs_precompute", **results, **_memory(suite))


def section_forward_small(suite: Suite) -> None:
    cfg = suite.config
    assert cfg.small_model is not None
    adapter = load_model(cfg.small_model, random_init=True, overrides=cfg.small_overrides or None)
    adapter.to(suite.device).module.eval()
    suite.record("a2_small_model", model=cfg.small_model, batch_size=cfg.batch_size)
    results = forward_vs_precompute(adapter, cfg.batch_size, max(cfg.repeats // 2, 2), cfg.warmup, top_k=cfg.top_k)
    suite.record("a2_small_model", **results)


def section_paper_loop(suite: Suite) -> None:
    cfg = suite.config
    adapter, _ = suite.vit()
    size = adapter.preprocessing.crop
    batch = torch.randint(0, 256, (8, 3, size, size), dtype=torch.uint8, device=suite.device)
    rate = paper_loop(adapter, batch, cfg.paper_images)
    values: dict[str, Any] = {"model": cfg.model, "n_images": cfg.paper_images, "paper_loop_img_s": rate}
    precompute = suite.report["sections"].get("a_forward_vs_precompute", {}).get("precompute_img_s")
    if precompute:
        values["precompute_vs_paper_loop"] = precompute / rate
    suite.record("b_paper_loop", **values)


def _dtype(suite: Suite) -> str:
    return "bfloat16 autocast" if suite.cuda else "float32"


# ------------------------------------------------------------------------------------------------
# c: decoding
# ------------------------------------------------------------------------------------------------


def decode_jpegs(datas: list[torch.Tensor], device: torch.device) -> tuple[list[torch.Tensor | None], bool]:
    """Batched ``decode_jpeg`` to RGB on ``device``; if the batch call fails, one by one (a failed
    image is ``None``). Returns the images and whether the batch call failed. The prototype of
    ``qkatlas.images.iter_device_batches``, kept for what the module does not show: the decoders'
    full-size pixels and the stages' times of a stream decoded in line (no thread, no fallback)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision >= 0.29 warns that its decoders are deprecated
        try:
            decoded = decode_jpeg(datas, mode=ImageReadMode.RGB, device=device)
            return list(decoded), False
        except Exception:
            images: list[torch.Tensor | None] = []
            for data in datas:
                try:
                    images.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
                except Exception:
                    images.append(None)
            return images, True


@dataclass
class TensorDecodeStats:
    n_images: int = 0
    n_failed: int = 0
    n_batch_fallbacks: int = 0
    read_s: float = 0.0
    decode_s: float = 0.0
    resize_s: float = 0.0


def tensor_decode_batches(
    paths: Sequence[Path],
    prep: Preprocessing,
    batch_size: int,
    device: torch.device,
    stats: TensorDecodeStats,
    staged: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Read, decode (nvJPEG on CUDA, libjpeg on the CPU), resize and crop on ``device``, in line (the
    caller waits for each batch); yields ``(images uint8 [b, 3, crop, crop], dataset indices [b])``.
    ``staged`` synchronizes between the stages to time each (slower than the pipelined default)."""

    def mark() -> float:
        if staged and device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    for start in range(0, len(paths), batch_size):
        t0 = mark()
        datas = [read_file(str(path)) for path in paths[start : start + batch_size]]
        t1 = mark()
        decoded, fell_back = decode_jpegs(datas, device)
        t2 = mark()
        crops = [tensor_to_model_input(image, prep) for image in decoded if image is not None]
        kept = [start + i for i, image in enumerate(decoded) if image is not None]
        images = torch.stack(crops) if crops else torch.empty((0, 3, prep.crop, prep.crop), dtype=torch.uint8)
        t3 = mark()
        stats.n_images += len(datas)
        stats.n_failed += len(datas) - len(kept)
        stats.n_batch_fallbacks += int(fell_back)
        stats.read_s += t1 - t0
        stats.decode_s += t2 - t1
        stats.resize_s += t3 - t2
        yield images, torch.tensor(kept, dtype=torch.int64)


def _timed_stream(batches: Iterator[Any], consume: Callable[[Any], int], sync: Callable[[], None]) -> dict[str, float]:
    """Rate over all batches and from the first batch's arrival on (excludes worker start-up)."""
    start = time.perf_counter()
    first_at, first_n, n = 0.0, 0, 0
    for batch in batches:
        done = consume(batch)
        if not first_at:
            sync()
            first_at, first_n = time.perf_counter(), done
        n += done
    sync()
    end = time.perf_counter()
    steady = (n - first_n) / (end - first_at) if end > first_at and n > first_n else float("nan")
    return {"img_s": n / (end - start), "steady_img_s": steady, "n": n, "seconds": end - start}


def _scored_stream(
    suite: Suite, adapter: ViTAdapter, dec: Decomposition, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """``_timed_stream`` of precompute (both bases, the job's top-K) over ``(images, indices)`` batches."""
    scorer = TopKScorer(ModeKernel(adapter, dec, BASES))
    topk = scorer.new_top_k(suite.config.top_k)

    def score(batch: tuple[torch.Tensor, torch.Tensor]) -> int:
        images, indices = batch
        if len(indices):
            scorer.score(images, indices, topk).cpu()  # the job fetches the entered rows once per batch
        return len(indices)

    return _timed_stream(batches, score, suite.sync)


def _repeated_source(files: list[Path], n_items: int, folder: Path) -> Any:
    """A list source of ``n_items`` entries cycling over ``files`` (distinct dataset indices)."""
    listing = folder / "images.txt"
    listing.write_text("".join(f"{files[i % len(files)]}\n" for i in range(n_items)))
    return open_image_source(listing)


def section_cpu_decode(suite: Suite) -> None:
    """Decode ceiling of the job's loader (Pillow in worker processes) and the job end to end with it."""
    cfg = suite.config
    section = "c_decode"
    adapter, dec = suite.vit()
    prep = adapter.preprocessing
    files = suite.files()
    n_items = max(cfg.decode_items, len(files))
    for path in files:  # into the page cache, so that no measure pays for the first read
        path.read_bytes()
    suite.record(
        section,
        n_distinct_files=len(files),
        n_items=n_items,
        batch_size=cfg.batch_size,
        cpu_workers=cfg.workers,
        preprocessing=asdict(prep),
        note="items cycle over the files (page cache after the first pass); rates include worker start-up, "
        "steady_* from the first batch's arrival on",
    )
    with tempfile.TemporaryDirectory() as tmp:
        source = _repeated_source(files, n_items, Path(tmp))
        pin = suite.cuda

        def loader() -> Iterator[Any]:
            return iter_batches(source, prep, batch_size=cfg.batch_size, workers=cfg.workers, pin_memory=pin)

        # CPU workers: Pillow decode + resize + crop, as the job's loader (pinned on CUDA, as the job).
        ceiling = _timed_stream(loader(), lambda b: len(b.indices), suite.sync)
        suite.record(section, cpu_decode_img_s=ceiling["img_s"], cpu_decode_steady_img_s=ceiling["steady_img_s"])

        e2e = _scored_stream(suite, adapter, dec, ((b.images, b.indices) for b in loader()))
        suite.record(
            section,
            end_to_end_cpu_img_s=e2e["img_s"],
            end_to_end_cpu_steady_img_s=e2e["steady_img_s"],
            end_to_end_vs_cpu_decode=e2e["img_s"] / ceiling["img_s"],
            end_to_end_vs_cpu_decode_steady=e2e["steady_img_s"] / ceiling["steady_img_s"],
        )


def section_tensor_decode(suite: Suite) -> None:
    """The job's GPU decoding (``iter_device_batches``: nvJPEG on CUDA, libjpeg on the CPU in --smoke;
    resize + crop on the same device): its decode ceiling, and the job end to end with it both ways, in
    line (the default: decoded in the thread that launches the model) and overlapped (a thread decoding
    ``prefetch`` batches ahead), in one run, so that the faster one can be the default; plus the
    per-stage times of the suite's own in-line prototype."""
    cfg = suite.config
    section = "c_decode"
    adapter, dec = suite.vit()
    prep, device = adapter.preprocessing, suite.device
    files = suite.files()
    n_items = max(cfg.decode_items, len(files))
    paths = [files[i % len(files)] for i in range(n_items)]
    kind = "nvjpeg" if suite.cuda else "cpu_tensor"
    with tempfile.TemporaryDirectory() as tmp:
        source = _repeated_source(files, n_items, Path(tmp))

        def stream(prefetch: int, counts: DecodeCounts | None = None, limit: int | None = None) -> Iterator[Any]:
            batches = iter_device_batches(
                source,
                [prep],
                batch_size=cfg.batch_size,
                device=device,
                indices=range(limit) if limit else None,
                read_workers=cfg.read_workers,
                prefetch=prefetch,
                counts=counts,
            )
            return ((batch.views[0].images, batch.views[0].indices) for batch in batches)

        for _ in stream(0, limit=cfg.batch_size):  # warm-up: nvJPEG's handle and buffers, the kernels
            pass
        counts = DecodeCounts()
        rate = _timed_stream(stream(0, counts), lambda b: len(b[1]), suite.sync)
        suite.record(
            section,
            **{
                f"{kind}_decode_img_s": rate["img_s"],
                f"{kind}_read_workers": cfg.read_workers,
                f"{kind}_device_decoded": counts.device,
                f"{kind}_to_pillow": dict(counts.pillow),
                f"{kind}_batch_retries": counts.batch_retries,
            },
        )
        inline = _scored_stream(suite, adapter, dec, stream(0))
        overlapped = _scored_stream(suite, adapter, dec, stream(cfg.prefetch))
    staged = TensorDecodeStats()
    for _ in tensor_decode_batches(paths, prep, cfg.batch_size, device, staged, staged=True):
        pass
    values: dict[str, Any] = {
        f"{kind}_inline_{stage}_us_per_img": getattr(staged, f"{stage}_s") / max(staged.n_images, 1) * 1e6
        for stage in ("read", "decode", "resize")
    }
    values.update(
        {
            f"end_to_end_{kind}_img_s": inline["img_s"],
            f"end_to_end_{kind}_steady_img_s": inline["steady_img_s"],
            f"end_to_end_{kind}_vs_{kind}_decode": inline["img_s"] / rate["img_s"],
            f"end_to_end_{kind}_overlapped_img_s": overlapped["img_s"],
            f"end_to_end_{kind}_overlapped_prefetch": cfg.prefetch,
            f"end_to_end_{kind}_overlapped_vs_inline": overlapped["img_s"] / inline["img_s"],
            f"{kind}_faster_decoding": "in line (the default)"
            if inline["img_s"] >= overlapped["img_s"]
            else "overlapped: make it the default",
        }
    )
    cpu_rate = suite.report["sections"].get(section, {}).get("cpu_decode_img_s")
    if cpu_rate:
        values[f"{kind}_decode_vs_cpu_decode"] = rate["img_s"] / cpu_rate
    suite.record(section, **values)


class _DiffStats:
    """Absolute differences of uint8 image pairs, accumulated as a histogram."""

    def __init__(self) -> None:
        self.histogram = torch.zeros(256, dtype=torch.int64)
        self.image_max: list[int] = []
        self.shape_mismatch = 0

    def add(self, a: torch.Tensor, b: torch.Tensor) -> None:
        if a.shape != b.shape:
            self.shape_mismatch += 1
            return
        diff = (a.cpu().to(torch.int16) - b.cpu().to(torch.int16)).abs().flatten()
        self.histogram += torch.bincount(diff.to(torch.int64), minlength=256)
        self.image_max.append(int(diff.max()))

    def summary(self) -> dict[str, Any]:
        total = int(self.histogram.sum())
        if not total:
            return {"n_images": 0, "shape_mismatch": self.shape_mismatch}
        values = torch.arange(256, dtype=torch.float64)
        cumulative = self.histogram.cumsum(0).double() / total

        def quantile(q: float) -> int:
            return int(torch.searchsorted(cumulative, torch.tensor([q], dtype=torch.float64)).item())

        return {
            "n_images": len(self.image_max),
            "max_abs": max(self.image_max),
            "mean_abs": float((self.histogram.double() * values).sum() / total),
            "p99_abs": quantile(0.99),
            "p999_abs": quantile(0.999),
            "frac_gt_1": float(self.histogram[2:].sum() / total),
            "frac_gt_4": float(self.histogram[5:].sum() / total),
            "median_image_max_abs": statistics.median(self.image_max),
            "shape_mismatch": self.shape_mismatch,
        }


def section_pixel_diff(suite: Suite) -> None:
    """How the GPU decoding's model inputs (``iter_device_batches``: nvJPEG on CUDA, and libjpeg on
    the CPU) differ from the Pillow path's (uint8, same files); the decoders alone (full-size decoded
    pixels, before any resize; EXIF orientation ignored there); and what the differences do to a
    model's scores and top-K (``_score_agreement``)."""
    cfg, device = suite.config, suite.device
    adapter, dec = suite.vit()
    prep = adapter.preprocessing
    files = suite.files()
    source = open_image_source(cfg.images)
    index_of = {item.path: i for i, item in enumerate(source.items)}
    wanted = [index_of[path] for path in files if path in index_of]
    pil: dict[int, torch.Tensor] = {}
    try:
        batches = list(iter_batches(source, prep, batch_size=cfg.batch_size, workers=cfg.workers, indices=wanted))
    except Exception:  # worker processes can fail where shared memory is small; decode in-process then
        traceback.print_exc()
        batches = list(iter_batches(source, prep, batch_size=cfg.batch_size, workers=0, indices=wanted))
    for batch in batches:
        pil.update(zip(batch.indices.tolist(), batch.images, strict=True))
    devices = [("cpu_tensor", torch.device("cpu"))] + ([("nvjpeg", device)] if suite.cuda else [])
    values: dict[str, Any] = {"n_files": len(files)}
    crops: dict[str, dict[int, torch.Tensor]] = {}
    raw: dict[str, dict[int, torch.Tensor]] = {}
    for name, dev in devices:
        counts = DecodeCounts()
        crops[name] = _device_crops(source, prep, wanted, dev, cfg, counts)
        values[f"{name}_device_decoded"] = counts.device
        values[f"{name}_to_pillow"] = dict(counts.pillow)
        raw[name] = {}
        for start in range(0, len(files), cfg.batch_size):
            chunk = files[start : start + cfg.batch_size]
            decoded, _ = decode_jpegs([read_file(str(p)) for p in chunk], dev)
            for path, image in zip(chunk, decoded, strict=True):
                if image is not None and path in index_of:
                    raw[name][index_of[path]] = image.cpu()
    exif_rotated = 0
    pil_raw: dict[int, torch.Tensor] = {}
    for path in files:
        with Image.open(path) as opened:
            exif_rotated += int(opened.getexif().get(0x0112, 1) in range(2, 9))  # the ones Pillow transposes
        if path in index_of:
            pil_raw[index_of[path]] = torch.from_numpy(np.array(load_image_file(path))).permute(2, 0, 1)
    values["exif_rotated_files"] = exif_rotated
    pairs = [("model_input", name, crops[name], pil) for name in crops] + [
        ("decoded", name, raw[name], pil_raw) for name in raw
    ]
    if "nvjpeg" in raw:
        pairs.append(("decoded", "nvjpeg_vs_cpu_tensor", raw["nvjpeg"], raw["cpu_tensor"]))
        pairs.append(("model_input", "nvjpeg_vs_cpu_tensor", crops["nvjpeg"], crops["cpu_tensor"]))
    for what, name, ours, reference in pairs:
        stats = _DiffStats()
        for index, image in ours.items():
            if index in reference:
                stats.add(image, reference[index])
        label = name if name.endswith("_cpu_tensor") else f"{name}_vs_pillow"
        values[f"{what}_{label}"] = stats.summary()
    suite.record("c_pixel_diff", **values)
    suite.record(
        "c_pixel_diff", **_score_agreement(suite, adapter, dec, pil, crops["nvjpeg" if suite.cuda else "cpu_tensor"])
    )


def _device_crops(
    source: ImageSource, prep: Preprocessing, wanted: list[int], device: torch.device, cfg: Config, counts: DecodeCounts
) -> dict[int, torch.Tensor]:
    """The model inputs ``iter_device_batches`` gives for the ``wanted`` items, uint8 ``[3, S, S]`` on the CPU."""
    crops: dict[int, torch.Tensor] = {}
    batches = iter_device_batches(
        source,
        [prep],
        batch_size=cfg.batch_size,
        device=device,
        indices=wanted,
        read_workers=cfg.read_workers,
        counts=counts,
    )
    for batch in batches:
        view = batch.views[0]
        crops.update(zip(view.indices.tolist(), view.images.cpu(), strict=True))
    return crops


def _score_agreement(
    suite: Suite,
    adapter: ViTAdapter,
    dec: Decomposition,
    pillow: dict[int, torch.Tensor],
    ours: dict[int, torch.Tensor],
) -> dict[str, Any]:
    """Every signed mode's score of the same images decoded by Pillow and by the GPU path, in the
    job's compute dtype (and float32 on CUDA, where the job runs bf16: the decode's effect alone),
    compared by ``_ranking_agreement``; ``pillow_<dtype>_vs_float32``: bf16 against float32 on the
    Pillow path's images, the precision's own effect, for scale."""
    common = sorted(set(pillow) & set(ours))
    reference_images = torch.stack([pillow[i] for i in common])
    our_images = torch.stack([ours[i] for i in common])
    k = min(suite.config.top_k, max(1, len(common) // 8))
    job_dtype = compute_dtype(suite.device)
    dtypes = [job_dtype] if job_dtype == torch.float32 else [job_dtype, torch.float32]
    scores: dict[torch.dtype, torch.Tensor] = {}
    values: dict[str, Any] = {}
    for dtype in dtypes:
        name = str(dtype).removeprefix("torch.")
        scores[dtype] = _mode_scores(adapter, dec, reference_images, suite.config.batch_size, dtype)
        mine = _mode_scores(adapter, dec, our_images, suite.config.batch_size, dtype)
        values[f"scores_{name}"] = {"model": suite.config.model, **_ranking_agreement(scores[dtype], mine, k)}
    if job_dtype != torch.float32:
        name = str(job_dtype).removeprefix("torch.")
        values[f"scores_pillow_{name}_vs_float32"] = _ranking_agreement(scores[torch.float32], scores[job_dtype], k)
    values.update(_exact_route_agreement(suite, adapter, dec, reference_images, k))
    return values


def _exact_route_agreement(
    suite: Suite, adapter: ViTAdapter, dec: Decomposition, images: torch.Tensor, k: int
) -> dict[str, Any]:
    """The exact basis taken from the model's queries and keys (the job's route) and projected
    directly, each in the job's dtype, against the direct projection in float32
    (docs/method.md#exact-basis-from-the-models-queries-and-keys): what the route costs in agreement."""
    batch, job_dtype = suite.config.batch_size, compute_dtype(suite.device)
    exact = (Basis.exact,)
    reference = _mode_scores(adapter, dec, images, batch, torch.float32, exact, qk_cond_limit=0)
    name = str(job_dtype).removeprefix("torch.")
    return {
        f"exact_from_qk_{name}_vs_direct_float32": _ranking_agreement(
            reference, _mode_scores(adapter, dec, images, batch, job_dtype, exact), k
        ),
        f"exact_direct_{name}_vs_direct_float32": _ranking_agreement(
            reference, _mode_scores(adapter, dec, images, batch, job_dtype, exact, qk_cond_limit=0), k
        ),
    }


def _mode_scores(
    adapter: ViTAdapter,
    dec: Decomposition,
    images: torch.Tensor,
    batch_size: int,
    dtype: torch.dtype,
    bases: tuple[Basis, ...] = BASES,
    qk_cond_limit: float = QK_PATH_COND_LIMIT,
) -> torch.Tensor:
    """uint8 ``images [n, 3, S, S]`` → every signed mode's score ``[n, C]`` float32 on the CPU, as the
    job scores them (``ModeKernel``; columns in the kernel's (layer, basis, head·mode, sign) order;
    ``qk_cond_limit=0``: the exact basis projected directly rather than taken from the model's q/k)."""
    kernel = ModeKernel(adapter, dec, bases, dtype=dtype, qk_cond_limit=qk_cond_limit)
    rows, columns = [], []  # columns: the current batch's [b, D·2] per (layer, basis)
    for start in range(0, len(images), batch_size):
        kernel.run(images[start : start + batch_size], lambda projected: columns.append(projected.scores.flatten(1)))
        rows.append(torch.cat(columns, dim=1).float().cpu())
        columns.clear()
    return torch.cat(rows)


def _ranking_agreement(reference: torch.Tensor, ours: torch.Tensor, k: int) -> dict[str, Any]:
    """Two ``[n, C]`` score matrices of the same images (rows) and columns.

    ``score_max_rel_diff``: the largest change of a score, relative to its column's largest absolute
    score (a per-entry ratio would explode where a score crosses zero); ``topk_overlap_*``: per
    column, the fraction of the top-``k`` images both share (mean and worst over columns);
    ``topk_identical_columns``/``top1_identical_columns``: the fraction of columns whose top-``k`` set
    (top-1 image) is the same.
    """
    scale = reference.abs().amax(dim=0).clamp_min(1e-12)  # [C]
    relative = (ours - reference).abs().amax(dim=0) / scale  # [C]
    top_reference = reference.topk(k, dim=0).indices.T  # [C, k]
    top_ours = ours.topk(k, dim=0).indices.T
    shared = (top_reference.unsqueeze(2) == top_ours.unsqueeze(1)).any(dim=2).sum(dim=1).double() / k  # [C]
    return {
        "n_images": reference.shape[0],
        "n_columns": reference.shape[1],
        "top_k": k,
        "score_max_rel_diff": float(relative.max()),
        "score_median_column_max_rel_diff": float(relative.median()),
        "topk_overlap_mean": float(shared.mean()),
        "topk_overlap_min": float(shared.min()),
        "topk_identical_columns": float((shared == 1).double().mean()),
        "top1_identical_columns": float((top_reference[:, 0] == top_ours[:, 0]).double().mean()),
    }


# ------------------------------------------------------------------------------------------------
# p: the job's precision: speed and agreement with float32, each of bf16, tf32 and fp32
# ------------------------------------------------------------------------------------------------

#: The rule the section recommends a default by: the fastest precision whose top-1 image is float32's in
#: at least this fraction of columns (fp32 itself when none is).
PRECISION_TOP1_BAR = 0.99


def section_precision(suite: Suite) -> None:
    """For each of ``--precision``'s choices, in one run: the job's scoring rate on the main model
    (``_precision_rates``) and how its scores of the suite's photos (Pillow, as the job decodes them)
    agree with float32 at full precision (``_ranking_agreement``, as c3), with the tie check's ε
    measured on the same photos and the share of the columns whose top-K set changed that the check
    flags (``_precision_agreement``); then the recommended default by ``PRECISION_TOP1_BAR``."""
    cfg = suite.config
    adapter, dec = suite.vit()
    # On the CPU tf32 is fp32 (``resolve_precision``): measured once, as fp32.
    choices = [name for name in PRECISIONS if resolve_precision(name, suite.device) == name]
    suite.record("p_precision", model=cfg.model, batch_size=cfg.batch_size, precisions=choices)
    rates = _precision_rates(suite, adapter, dec, choices)
    suite.record(
        "p_precision", **{f"{name}_{key}": value for name, rate in rates.items() for key, value in rate.items()}
    )
    agreement = _precision_agreement(suite, adapter, dec, choices)
    suite.record("p_precision", **{f"{name}_vs_fp32": values for name, values in agreement.items()})
    eligible = [name for name in choices if agreement[name]["top1_identical_columns"] >= PRECISION_TOP1_BAR]
    recommended = max(eligible, key=lambda name: rates[name]["precompute_img_s"]) if eligible else "fp32"
    suite.record(
        "p_precision",
        recommended=recommended,
        rule=f"the fastest precision whose top-1 image is float32's in >= {PRECISION_TOP1_BAR:.0%} of columns",
    )


def _precision_rates(
    suite: Suite, adapter: ViTAdapter, dec: Decomposition, choices: list[Precision]
) -> dict[str, dict[str, float]]:
    """Median img/s of the forward pass alone and of the job's scoring (both bases, top-K with the
    winners' maps, no statistics) at each precision, rounds interleaved across the precisions so that
    each sees the same machine state; new random images and indices every batch."""
    cfg, device = suite.config, suite.device
    size = adapter.preprocessing.crop
    steps: dict[tuple[Precision, str], Callable[[torch.Tensor, int], None]] = {}
    for name in choices:
        dtype = precision_dtype(name)
        scorer = TopKScorer(ModeKernel(adapter, dec, BASES, dtype))
        topk = scorer.new_top_k(cfg.top_k)

        def forward(batch: torch.Tensor, _: int, dtype: torch.dtype = dtype) -> None:
            with torch.inference_mode(), autocast(device, dtype):
                adapter.forward(adapter.normalize(batch))

        def score(batch: torch.Tensor, start: int, scorer: TopKScorer = scorer, topk: RunningTopK = topk) -> None:
            indices = torch.arange(start, start + len(batch), device=device)
            scorer.score(batch, indices, topk).cpu()  # the job fetches the mask once per batch

        steps[name, "forward"], steps[name, "precompute"] = forward, score
    seconds: dict[tuple[Precision, str], list[float]] = {label: [] for label in steps}
    for round_ in range(cfg.warmup + cfg.repeats):
        for label, step in steps.items():
            batch = torch.randint(0, 256, (cfg.batch_size, 3, size, size), dtype=torch.uint8, device=device)
            with precision_scope(label[0]):
                suite.sync()
                start = time.perf_counter()
                step(batch, round_ * cfg.batch_size)
                suite.sync()
            if round_ >= cfg.warmup:
                seconds[label].append(time.perf_counter() - start)
    rates: dict[str, dict[str, float]] = {}
    for name in choices:
        forward_rate = cfg.batch_size / statistics.median(seconds[name, "forward"])
        precompute_rate = cfg.batch_size / statistics.median(seconds[name, "precompute"])
        rates[name] = {
            "forward_img_s": forward_rate,
            "precompute_img_s": precompute_rate,
            "precompute_vs_forward": precompute_rate / forward_rate,
        }
    for name in choices:
        rates[name]["precompute_vs_fp32"] = rates[name]["precompute_img_s"] / rates["fp32"]["precompute_img_s"]
    return rates


def _precision_agreement(
    suite: Suite, adapter: ViTAdapter, dec: Decomposition, choices: list[Precision]
) -> dict[str, dict[str, Any]]:
    """Every signed mode's score of the suite's photos at each precision against float32 at full
    precision (``_ranking_agreement``), with ``epsilon``: a score's relative rounding measured on the
    same photos as the job measures it (``qkatlas.ties.measured_rounding``; fp32: its analytic bound),
    ``cutoff_ties``: the share of columns whose K-th and (K+1)-th scores tie at that ε, and
    ``set_changes_flagged``: of the columns whose top-K set differs from float32's, the share flagged."""
    cfg = suite.config
    source = open_image_source(cfg.images)
    index_of = {item.path: i for i, item in enumerate(source.items)}
    wanted = [index_of[path] for path in suite.files() if path in index_of]
    batches = iter_batches(source, adapter.preprocessing, batch_size=cfg.batch_size, workers=0, indices=wanted)
    images = torch.cat([batch.images for batch in batches])
    k = min(cfg.top_k, max(1, len(images) // 8))
    scores: dict[str, torch.Tensor] = {}
    for name in sorted(choices, key=lambda precision: precision != "fp32"):  # the reference first
        with precision_scope(name):
            scores[name] = _mode_scores(adapter, dec, images, cfg.batch_size, precision_dtype(name))
    reference = scores["fp32"]
    top_reference = reference.topk(k + 1, dim=0)
    values: dict[str, dict[str, Any]] = {}
    for name in choices:
        ours = scores[name]
        if name == "fp32":
            epsilon = analytic_rounding(adapter.spec.d_model).epsilon
        else:
            epsilon = measured_rounding(name, ours, reference).epsilon
        ranked = ours.topk(k + 1, dim=0).values.double()  # [k + 1, C]
        last, following = ranked[k - 1], ranked[k]
        tied = (last - following) <= epsilon * (last.abs() + following.abs())  # [C]
        top_ours = ours.topk(k, dim=0).indices.T
        same_set = (top_ours.sort(dim=1).values == top_reference.indices[:k].T.sort(dim=1).values).all(dim=1)
        changed = ~same_set
        values[name] = {
            **_ranking_agreement(reference, ours, k),
            "epsilon": epsilon,
            "cutoff_ties": float(tied.double().mean()),
            "set_changes_flagged": float(tied[changed].double().mean()) if bool(changed.any()) else None,
        }
    return values


# ------------------------------------------------------------------------------------------------
# d: one upload's analysis
# ------------------------------------------------------------------------------------------------


def section_upload(suite: Suite) -> None:
    """As the service runs it: the model's ``ImageAnalyzer`` is built once (timed apart), then each
    upload is decoded, cropped and analysed."""
    cfg = suite.config
    adapter, dec = suite.vit()
    path = suite.files()[0]
    decode_times = []
    for _ in range(5):
        start = time.perf_counter()
        image = to_model_input(load_image_file(path), adapter.preprocessing)
        decode_times.append((time.perf_counter() - start) * 1e3)
    suite.sync()
    start = time.perf_counter()
    analyzer = ImageAnalyzer(adapter, dec)
    suite.sync()
    build_ms = (time.perf_counter() - start) * 1e3
    times = []
    for _ in range(3 + cfg.analyze_repeats):
        suite.sync()
        start = time.perf_counter()
        analyzer.analyze(image)
        suite.sync()
        times.append((time.perf_counter() - start) * 1e3)
    timed = sorted(times[3:])
    suite.record(
        "d_upload",
        model=cfg.model,
        device=str(suite.device),
        decode_and_crop_ms=statistics.median(decode_times),
        analyzer_build_ms=build_ms,
        first_call_ms=times[0],
        analyze_median_ms=statistics.median(timed),
        analyze_min_ms=timed[0],
        analyze_p90_ms=timed[int(0.9 * (len(timed) - 1))],
        n_timed=len(timed),
    )


# ------------------------------------------------------------------------------------------------
# f: host synchronizations per scored batch
# ------------------------------------------------------------------------------------------------


def section_syncs(suite: Suite) -> None:
    cfg = suite.config
    adapter, dec = suite.vit()
    size = adapter.preprocessing.crop
    scorer = TopKScorer(ModeKernel(adapter, dec, BASES))
    topk = scorer.new_top_k(cfg.top_k)

    def batch(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        # As the job's loader delivers them: pinned host memory.
        images = torch.randint(0, 256, (cfg.batch_size, 3, size, size), dtype=torch.uint8).pin_memory()
        return images, torch.arange(i * cfg.batch_size, (i + 1) * cfg.batch_size).pin_memory()

    batches = [batch(i) for i in range(2 + cfg.sync_batches)]
    for images, indices in batches[:2]:
        scorer.score(images, indices, topk)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for images, indices in batches[2:]:
                scorer.score(images, indices, topk).cpu()  # as the job: one fetch of the entered rows
        finally:
            torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    where = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in syncs)
    kinds = Counter(f"{w.category.__name__}: {str(w.message).splitlines()[0][:100]}" for w in caught)
    n = cfg.sync_batches
    suite.record(
        "f_syncs",
        n_batches=n,
        batch_size=cfg.batch_size,
        n_layers=adapter.spec.n_layers,
        n_bases=len(BASES),
        syncs_total=len(syncs),
        syncs_per_batch=len(syncs) / n,
        syncs_per_batch_by_line={k: v / n for k, v in where.most_common()},
        warnings_per_batch={k: v / n for k, v in kinds.most_common(5)},
        other_warnings=len(caught) - len(syncs),
        note="counted by torch.cuda.set_sync_debug_mode('warn') (the syncs it detects); steady state after 2 batches",
    )


# ------------------------------------------------------------------------------------------------
# e: the paper's 13 models
# ------------------------------------------------------------------------------------------------


def _topk_bytes(adapter: ViTAdapter, k: int, n_bases: int) -> int:
    spec = adapter.spec
    columns = n_bases * spec.n_layers * spec.n_heads * spec.d_head * 2
    return columns * k * (4 + 8 + 2 * 2 * spec.n_patches)  # scores f32, indices i64, maps f16 [2, P]


def section_models(suite: Suite) -> None:
    cfg = suite.config
    section = "e_paper_models"
    suite.drop_vit()
    per_model: dict[str, dict[str, Any]] = {}
    suite.record(section, n_models=len(cfg.models))
    for model_id in cfg.models:
        large = any(word in model_id for word in ("large", "huge"))
        need = 25.0 if large else 10.0
        if suite.remaining() < need:
            per_model[model_id] = {"status": f"skipped: time budget ({suite.elapsed():.0f} s used)"}
        else:
            try:
                per_model[model_id] = _measure_model(suite, model_id)
            except Exception as error:
                traceback.print_exc()
                per_model[model_id] = {"status": f"failed: {type(error).__name__}: {error}"[:400]}
            finally:
                gc.collect()
                if suite.cuda:
                    torch.cuda.empty_cache()
        suite.record(section, **{model_id: per_model[model_id]})
        _job_estimate(suite, per_model)


def _measure_model(suite: Suite, model_id: str) -> dict[str, Any]:
    cfg = suite.config
    start = time.perf_counter()
    adapter = load_model(model_id, random_init=True, overrides=cfg.model_overrides or None)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    dec = decompose(adapter.weights())
    svd_s = time.perf_counter() - start
    adapter.to(suite.device).module.eval()
    spec = adapter.spec
    batch = cfg.model_batch_large if spec.d_model >= 1024 else cfg.model_batch
    k, note = cfg.top_k, None
    state = _topk_bytes(adapter, k, len(BASES))
    if suite.cuda:
        torch.cuda.reset_peak_memory_stats()
        free, _ = torch.cuda.mem_get_info()
        while k > 1 and state > 0.5 * free:
            k //= 2
            state = _topk_bytes(adapter, k, len(BASES))
        if k != cfg.top_k:
            note = f"top-K reduced to {k}: the state at K={cfg.top_k} would exceed half the free memory"
    result: dict[str, Any] = {
        "params_m": round(sum(p.numel() for p in adapter.module.parameters()) / 1e6, 1),
        "layers": spec.n_layers,
        "heads": spec.n_heads,
        "d_head": spec.d_head,
        "patches": spec.n_patches,
        "image_size": spec.image_size,
        "batch_size": batch,
        "top_k": k,
        "topk_state_mib": round(state / 2**20),
        "load_s": round(load_s, 2),
        "svd_s": round(svd_s, 2),
    }
    for attempt in range(2):
        try:
            rates = forward_vs_precompute(
                adapter,
                batch,
                cfg.model_repeats,
                cfg.model_warmup,
                variants=("precompute", "precompute_compact_merges"),
                top_k=k,
                dec=dec,
            )
            break
        except torch.cuda.OutOfMemoryError:
            if attempt or batch < 2:
                raise
            gc.collect()
            torch.cuda.empty_cache()
            batch //= 2
            note = f"{note + '; ' if note else ''}out of memory: batch halved to {batch}"
            result["batch_size"] = batch
    result.update(rates)
    result.update(_memory(suite))
    result["s_per_50k_precompute"] = N_JOB_IMAGES / rates["precompute_img_s"]
    result["s_per_50k_forward"] = N_JOB_IMAGES / rates["forward_img_s"]
    if note:
        result["note"] = note
    result["status"] = "ok"
    return result


def _job_estimate(suite: Suite, per_model: dict[str, dict[str, Any]]) -> None:
    done = {m: r for m, r in per_model.items() if r.get("status") == "ok"}
    compute = sum(r["s_per_50k_precompute"] for r in done.values())
    decode = suite.report["sections"].get("c_decode", {})
    estimate: dict[str, Any] = {
        "models_measured": len(done),
        "compute_s_if_decode_free": compute,
        "forward_only_s": sum(r["s_per_50k_forward"] for r in done.values()),
        # Building each model and its SVD happen once per model, on the CPU (random init here; real
        # weights are read instead, which this does not measure).
        "model_setup_s": sum(r["load_s"] + r["svd_s"] for r in done.values()),
    }
    for kind, key in (("nvjpeg", "nvjpeg_decode_img_s"), ("cpu_workers", "cpu_decode_steady_img_s")):
        rate = decode.get(key)
        if rate:
            once = N_JOB_IMAGES / rate
            estimate[f"decode_once_{kind}_s"] = once
            estimate[f"job_s_decode_once_{kind}_serial"] = compute + once
            # Each model streamed from its own decode (no reuse), decoding overlapped with compute:
            estimate[f"job_s_decode_per_model_{kind}_overlapped"] = sum(
                max(r["s_per_50k_precompute"], once) for r in done.values()
            )
    estimate["bar_s"] = 600
    suite.record("e_job_estimate", **estimate)


# ------------------------------------------------------------------------------------------------
# h: the real multi-model job
# ------------------------------------------------------------------------------------------------


class _BatchClock:
    """The job's progress sink (``qkatlas.progress.ProgressSink``) as a stopwatch: when every model
    of the stream had scored each position, so that the first batch (every model's first use of its
    kernels and allocations) can be told apart from the steady stream."""

    def __init__(self) -> None:
        self.reached: dict[int, float] = {}  # position → when the last model got there

    def __call__(self, slug: str, phase: str, done: int, total: int) -> None:
        if phase == "stream":
            self.reached[done] = time.perf_counter()

    def model_finished(self, slug: str, state: str, message: str | None = None) -> None:
        pass

    def steady(self, n_target: int, fixed_s: float, stream_s: float) -> dict[str, float]:
        """The steady rate (after the first batch) and the job extrapolated with it to ``n_target``
        images: the fixed part, the first batch as measured (the stream's time less the steady
        part), the other images at the steady rate."""
        positions = sorted(self.reached)
        if len(positions) < 3:
            return {}
        first, last = positions[0], positions[-1]
        steady_s = self.reached[last] - self.reached[first]
        rate = (last - first) / steady_s
        first_batch_s = stream_s - steady_s
        return {
            "first_batch_s": first_batch_s,
            "stream_steady_img_s": rate,
            "job_s_per_50k_steady": fixed_s + first_batch_s + (n_target - first) / rate,
        }


def section_multi_job(suite: Suite) -> None:
    """``precompute.job.run_job`` with every model of ``--models`` (the paper's 13) over the files
    repeated to ``job_images`` items, from the JPEG files to published atlases; extrapolated to 50,000
    images as the stream scaled by 50,000 / N plus the rest as measured (``JobTimings``: loading, SVD,
    calibration, draining the writer and writing the atlases do not grow with the images). The
    checkpoint interval is scaled by N / 50,000 so that the stream pays for as many checkpoints."""
    cfg = suite.config
    files = suite.files()
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "images.txt"
        listing.write_text("".join(f"{files[i % len(files)]}\n" for i in range(cfg.job_images)))
        config = JobConfig(
            models=cfg.models,
            images=str(listing),
            out=Path(tmp) / "atlases",
            top_k=cfg.top_k,
            batch_size=cfg.model_batch,
            device=str(suite.device),
            workers=cfg.workers,
            random_init=True,
            overrides=dict(cfg.model_overrides),
            show_progress=False,
            # The default 30 s scaled down with the images. The interval's other bound, ten times the
            # last checkpoint's write, is not scaled: at 2,048 images the stream takes about one
            # checkpoint, as the 50,000-image job would, and the drain then waits for most of its
            # write, which that job rarely does (so the estimate errs high).
            checkpoint_every_s=JobConfig.checkpoint_every_s * cfg.job_images / N_JOB_IMAGES,
        )
        clock = _BatchClock()
        start = time.perf_counter()
        outcome = run_job(config, clock)
        wall = time.perf_counter() - start
        assert outcome is not None
        disk = sum(path.stat().st_size for path in (Path(tmp) / "atlases").rglob("*") if path.is_file())
        writing = _atlas_writing_vs_disk(Path(tmp), outcome.timings, cfg.disk_probe_mb)
    t = outcome.timings
    fixed = wall - t.stream  # setup, calibration, draining the writer, writing: independent of the image count
    suite.record(
        "h_multi_model_job",
        n_models=len(outcome.results),
        n_images=cfg.job_images,
        wall_s=wall,
        setup_s=t.setup,
        calibration_s=t.calibration,
        stream_s=t.stream,
        drain_s=t.drain,
        finish_s=t.finish,
        writer_busy_s=t.writer_busy,
        writer_waited_s=t.writer_waited,
        stream_img_s=cfg.job_images / t.stream,
        job_s_per_50k=fixed + t.stream * N_JOB_IMAGES / cfg.job_images,
        **clock.steady(N_JOB_IMAGES, fixed, t.stream),
        atlases_gib=disk / 1024**3,
        per_model_img_s={result.model_id: round(result.images_per_second, 1) for result in outcome.results},
        bar_s=600,
        **writing,
    )
    _job_against_its_pieces(suite, [result.model_id for result in outcome.results])


def _job_against_its_pieces(suite: Suite, models: list[str]) -> None:
    """The real job's steady rate against what its pieces allow: each image goes through every model,
    so the stream can at best run at ``1 / Σ 1/r_i`` positions per second, ``r_i`` each model's
    precompute rate alone (section e, same run; decoding excluded there). Bar: ≥ 0.9."""
    section = suite.report["sections"]
    per_model = section.get("e_paper_models", {})
    rates = [per_model.get(model, {}).get("precompute_img_s") for model in models]
    steady = section.get("h_multi_model_job", {}).get("stream_steady_img_s")
    if steady is None or not rates or any(rate is None for rate in rates):
        suite.record("h_multi_model_job", steady_vs_models="not measured: needs section e for every model")
        return
    pieces = 1 / sum(1 / rate for rate in rates)
    suite.record("h_multi_model_job", models_alone_img_s=pieces, steady_vs_models=steady / pieces)


def _atlas_writing_vs_disk(folder: Path, timings: JobTimings, probe_mb: int) -> dict[str, Any]:
    """Right after the job: the time to get what its atlases left in the page cache onto the disk
    (``os.sync``), then the disk's sequential write rate in the same folder (``O_DIRECT``, as ``dd
    oflag=direct conv=fsync``); the atlases' write rate is the bytes the publishing thread wrote (all
    but the thumbnails, written during the stream) over its busy time plus that sync. Also the share
    of the stream's host time the background writer's threads used (``writer_cpu_share``)."""
    clock = time.perf_counter()
    os.sync()
    sync_s = time.perf_counter() - clock
    atlases = folder / "atlases"
    files = [path for path in atlases.rglob("*") if path.is_file()]
    thumbnails = sum(path.stat().st_size for path in files if path.parent.name == "thumbs")
    published = sum(path.stat().st_size for path in files) - thumbnails
    disk = disk_write_rate(folder, probe_mb * 1024**2)
    atlas_mb_s = published / (timings.publish + sync_s) / 1e6 if timings.publish + sync_s > 0 else 0.0
    return {
        "disk_write_mb_s": disk["disk_mb_s"],
        "disk_write_direct": disk["direct"],
        "published_gib": published / 1024**3,
        "thumbnails_gib": thumbnails / 1024**3,
        "publish_s": timings.publish,
        "publish_wait_s": timings.publish_wait,
        "sync_after_job_s": sync_s,
        "atlas_write_mb_s": atlas_mb_s,
        "atlas_write_vs_disk": atlas_mb_s / disk["disk_mb_s"],
        "atlas_write_bar": 0.7,
        "writer_cpu_s": timings.writer_cpu,
        "writer_cpu_share": timings.writer_cpu / timings.stream if timings.stream > 0 else 0.0,
    }


# ------------------------------------------------------------------------------------------------
# g: torch.compile (subprocess)
# ------------------------------------------------------------------------------------------------


def section_compile(suite: Suite) -> None:
    timeout = max(suite.remaining() - 5, 10)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compile.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--compile-child", str(path),
                   "--device", str(suite.device)] + (["--smoke"] if suite.config.smoke else [])  # fmt: skip
        suite.record("g_compile", timeout_s=round(timeout))
        try:
            subprocess.run(command, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            suite.record("g_compile", result=f"timed out after {timeout:.0f} s")
        if path.is_file():
            suite.record("g_compile", **json.loads(path.read_text()))


def compile_child(config: Config, path: Path) -> None:
    device = torch.device(config.device)
    results: dict[str, Any] = {"model": config.model, "batch_size": config.batch_size}

    def save(**values: Any) -> None:
        results.update(values)
        print(f"[g_compile] {values}", flush=True)
        path.write_text(json.dumps(results, default=str))

    adapter = load_model(config.model, random_init=True, overrides=config.overrides or None)
    adapter.to(device).module.eval()
    size = adapter.preprocessing.crop

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def rate(fn: Callable[[torch.Tensor], Any], pixels: torch.Tensor, n: int) -> float:
        times = []
        for _ in range(n):
            sync()
            start = time.perf_counter()
            fn(pixels)
            sync()
            times.append(time.perf_counter() - start)
        return config.batch_size / statistics.median(times)

    with torch.inference_mode(), autocast(device, compute_dtype(device)):
        images = torch.randint(0, 256, (config.batch_size, 3, size, size), dtype=torch.uint8, device=device)
        pixels = adapter.normalize(images)
        # The encoder's output must be returned: a compiled function whose result is unused is all dead code.
        eager = getattr(adapter.module, "forward_features", adapter.module)
        rate(eager, pixels, 2)
        save(eager_forward_img_s=rate(eager, pixels, config.repeats))
        compiled = torch.compile(eager)
        sync()
        start = time.perf_counter()
        compiled(pixels)
        sync()
        save(compile_s=time.perf_counter() - start)
        compiled(pixels)
        compiled_rate = rate(compiled, pixels, config.repeats)
        save(compiled_forward_img_s=compiled_rate, compiled_vs_eager=compiled_rate / results["eager_forward_img_s"])


# ------------------------------------------------------------------------------------------------


BARS = (
    ("a_forward_vs_precompute", "precompute_vs_forward", ">= 0.80"),
    ("a2_small_model", "precompute_vs_forward", ">= 0.6"),
    ("a_forward_vs_precompute", "statistics_vs_without", ">= 0.95"),
    ("a_forward_vs_precompute", "samples_vs_without", ">= 0.95"),
    ("b_paper_loop", "precompute_vs_paper_loop", ">= 300"),
    ("c_decode", "end_to_end_vs_cpu_decode", ">= 0.9"),
    ("c_decode", "end_to_end_nvjpeg_vs_nvjpeg_decode", ">= 0.9"),
    ("d_upload", "analyze_median_ms", "< 50"),
    ("e_job_estimate", "job_s_decode_once_nvjpeg_serial", "< 600"),
    ("h_multi_model_job", "job_s_per_50k", "< 600"),
    ("h_multi_model_job", "job_s_per_50k_steady", "< 600 (stretch < 360)"),
    ("h_multi_model_job", "steady_vs_models", ">= 0.9"),
    ("h_multi_model_job", "atlas_write_vs_disk", ">= 0.7"),
    ("f_syncs", "syncs_per_batch", "baseline"),
    ("g_compile", "compiled_vs_eager", ""),
    ("p_precision", "recommended", "fastest with top-1 agreement >= 99 %"),
)


#: Packages the device lacks: the suite must never import them.
ABSENT_ON_DEVICE = ("redis", "fastapi", "pydantic_settings", "uvicorn", "starlette")


def summary(suite: Suite) -> None:
    loaded = [name for name in ABSENT_ON_DEVICE if name in sys.modules]
    suite.report["service_packages_imported"] = loaded
    suite.save()
    print("\n===== summary =====")
    print(f"service packages imported (should be none): {loaded}")
    print(f"machine: {suite.report['machine'].get('gpu', 'CPU')}, torch {torch.__version__}")
    for section, key, bar in BARS:
        value = suite.report["sections"].get(section, {}).get(key)
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{section:26s} {key:38s} {shown:>12s}  {bar}")
    for section, text in suite.report["status"].items():
        if text != "ok":
            print(f"{section}: {text}")
    print(f"total {suite.elapsed():.0f} s; results in {suite.out / 'results.json'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder of JPEG files")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default $OUT, else ./gpu-suite-out)")
    parser.add_argument("--smoke", action="store_true", help="tiny models and batches: every section runs on a CPU")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--files", type=int, default=None, help="distinct JPEG files (default 384; smoke 16)")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default min(16, CPUs))")
    parser.add_argument("--budget-s", type=float, default=None, help="skip sections past this (default 330 s)")
    parser.add_argument("--compile", action="store_true", help="with --smoke: run the torch.compile section too")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile section")
    parser.add_argument("--only", default="", help="comma-separated section prefixes to run (e.g. a,c,g)")
    parser.add_argument("--compile-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = Config.from_args(args)
    if args.compile_child is not None:
        compile_child(config, args.compile_child)
        return
    out = args.out or Path(os.environ.get("OUT") or "gpu-suite-out")
    out.mkdir(parents=True, exist_ok=True)
    suite = Suite(config, out)
    only = [prefix for prefix in args.only.split(",") if prefix]
    suite.run("machine", machine)
    for name, fn, needs_cuda, min_s in (
        ("a_forward_vs_precompute", section_forward, False, 20),
        ("a2_small_model", section_forward_small, False, 20),
        ("b_paper_loop", section_paper_loop, False, 15),
        ("d_upload", section_upload, False, 10),
        ("f_syncs", section_syncs, True, 10),
        ("c1_cpu_decode", section_cpu_decode, False, 20),
        ("c2_tensor_decode", section_tensor_decode, False, 15),
        ("c3_pixel_diff", section_pixel_diff, False, 15),
        ("p_precision", section_precision, False, 20),
        ("e_paper_models", section_models, False, 15),
        ("h_multi_model_job", section_multi_job, False, 90),
        ("g_compile", section_compile, False, 60),
    ):
        if only and not any(name.startswith(prefix) for prefix in only):
            continue
        if name == "a2_small_model" and not config.small_model:
            continue
        if name == "g_compile" and not config.compile:
            suite.status(name, "skipped: not asked (--smoke without --compile, or --no-compile)")
            continue
        suite.run(name, fn, needs_cuda=needs_cuda, min_s=min_s)
    summary(suite)


if __name__ == "__main__":
    main()
