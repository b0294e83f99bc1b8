"""Atlas writing against the disk, in one run: the folder's sequential write rate and the rate at which
``AtlasWriter`` writes a ViT-B/16-sized atlas there, with the map precision and writer-thread figures.

    python benchmarks/write_bench.py                        # 2 GB disk probe, ViT-B/16-sized atlas
    python benchmarks/write_bench.py --disk-mb 512 --folder /data --atlas ATLAS_DIR

Sections (``--only``):

- ``write``: the sequential write rate of ``--folder`` (``O_DIRECT`` 8 MiB blocks, then ``fsync``:
  what ``dd oflag=direct conv=fsync`` measures) against a realistic atlas written by ``AtlasWriter``
  (12 layers × 12 heads × 64 modes × 2 signs × 2 bases × K = 16 query and key maps of 196 float16
  values, top-K, statistics with 1,000 classes, SVD, thumbnails) until it is on the disk (``os.sync``),
  with the writer's parallel files and with one file at a time. Bar: ≥ 0.7 × the disk.
- ``bytes``: an atlas's bytes by part, for the synthetic atlas, every paper model (from the format) and
  ``--atlas`` (a real one).
- ``precision``: the rendered overlays of ``--atlas``'s maps as stored (float16) against the same maps
  kept as uint8 with a per-map offset and step: pixel differences in 0..255 levels.
- ``thread``: whether writing thumbnails holds the GIL: how long a waking thread waits for it while
  another encodes thumbnails into memory or into files, and the encoding's CPU time per thumbnail.
- ``job``: a real three-model job on this machine: the background writer's share of the stream's host
  time, and where the job's time went.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from precompute_bench import MULTI_MODELS, MULTI_OVERRIDES

from qkatlas.atlas import AtlasWriter
from qkatlas.atlas import format as fmt
from qkatlas.atlas import writer as atlas_writer
from qkatlas.atlas.writer import WRITE_THREADS, decomposition_arrays
from qkatlas.distribution_samples import N_BANDS, PER_BAND
from qkatlas.mode_statistics import CLASS_MODES, N_BINS, TOP_CLASSES
from qkatlas.models.known_models import KNOWN_HF_MODELS, PAPER_MODELS
from qkatlas.render import encode_thumbnail, map_scale, peak_patch, render_overlay, save_thumbnail
from qkatlas.sample_photos import optional_sample_dir
from qkatlas.svd import Decomposition

SECTIONS = ("write", "bytes", "precision", "thread", "job")
MIB = 1024**2
#: ``dd bs=8M``: large enough that the device, not the system calls, sets the rate.
DISK_BLOCK = 8 * MIB


def disk_write_rate(folder: Path, n_bytes: int, block: int = DISK_BLOCK) -> dict[str, Any]:
    """Write ``n_bytes`` of random data into a file in ``folder`` with ``O_DIRECT`` (past the page
    cache, as ``dd oflag=direct``) in ``block``-byte writes, then ``fsync``; the rate in MB/s (10⁶ B).
    Where the file system refuses ``O_DIRECT`` (tmpfs) the write is buffered, then synced, and
    ``direct`` says so. The file is removed."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".disk-probe-{os.getpid()}"
    buffer = mmap.mmap(-1, block)  # page-aligned, as O_DIRECT requires
    buffer.write(np.random.default_rng(0).integers(0, 256, block, dtype=np.uint8).tobytes())
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    direct = hasattr(os, "O_DIRECT")
    try:
        fd = os.open(path, flags | (os.O_DIRECT if direct else 0), 0o600)
    except OSError:
        direct = False
        fd = os.open(path, flags, 0o600)
    try:
        start = time.perf_counter()
        written = 0
        while written < n_bytes:
            try:
                written += os.write(fd, buffer)
            except OSError:
                if not direct or written:
                    raise
                os.close(fd)  # O_DIRECT accepted at open but not at write (some FUSE file systems)
                direct, fd = False, os.open(path, flags, 0o600)
        os.fsync(fd)
        seconds = time.perf_counter() - start
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
        buffer.close()
    return {"disk_mb_s": written / seconds / 1e6, "disk_bytes": written, "disk_s": seconds, "direct": direct}


def _vit_b16_arrays(n_classes: int) -> tuple[Decomposition, dict[str, np.ndarray], np.ndarray]:
    """A ViT-B/16 atlas's arrays as the job hands them to the writer: the decomposition, the others by
    name (the maps as the two strided halves of the top-K's ``[..., K, 2, T, T]`` payload, as
    ``precompute.assemble`` passes them), and the payload itself."""
    rng = np.random.default_rng(0)
    layers, heads, modes, d, grid, k = 12, 12, 64, 768, 14, 16
    columns = (2, layers, heads, modes, 2)
    head_modes = (layers, heads, modes)
    payload = rng.standard_normal((*columns, k, 2, grid, grid), dtype=np.float32).astype(np.float16)
    dec = Decomposition(
        U=rng.standard_normal((*head_modes, d), dtype=np.float32),
        V=rng.standard_normal((*head_modes, d), dtype=np.float32),
        sigma=rng.random(head_modes),
        cos=rng.random(head_modes),
        degenerate=np.zeros(head_modes, bool),
        query_offset=rng.random(head_modes),
    )
    sampled = (*columns, N_BANDS, PER_BAND)
    arrays: dict[str, np.ndarray] = {
        "maps_query": payload[..., 0, :, :],
        "maps_key": payload[..., 1, :, :],
        "topk_indices": rng.integers(0, 50_000, (*columns, k)),
        "topk_scores": rng.random((*columns, k), dtype=np.float32),
        "stats_histogram": rng.integers(0, 1000, (*columns, N_BINS + 2)),
        "class_count": rng.integers(0, 50, n_classes),
        "class_mean": rng.random((n_classes, *columns), dtype=np.float32),
        "class_top": rng.integers(0, n_classes, (*columns, TOP_CLASSES), dtype=np.int32),
        "class_top_selectivity": rng.random((*columns, TOP_CLASSES), dtype=np.float32),
        "class_modes": rng.integers(0, 1000, (n_classes, 2, CLASS_MODES)),
        "class_modes_selectivity": rng.random((n_classes, 2, CLASS_MODES), dtype=np.float32),
        "sample_indices": rng.integers(0, 50_000, sampled),
        "sample_scores": rng.random(sampled, dtype=np.float32),
        "sample_fires": rng.random(sampled) > 0.5,
    }
    for name in ("stats_count", "stats_firing", "stats_mean", "stats_std", "stats_min", "stats_max"):
        arrays[name] = rng.random(columns)
    arrays["stats_bin_low"], arrays["stats_bin_width"] = rng.random(columns), rng.random(columns)
    return dec, arrays, payload


def _thumbnail_pixels(n: int) -> list[np.ndarray]:
    """``n`` 224 × 224 crops of real photos (the bundled samples, repeated; noise when absent: larger JPEGs)."""
    folder = optional_sample_dir("imagenet-samples")
    photos = sorted(folder.iterdir())[:64] if folder is not None else []
    crops = [np.asarray(Image.open(p).convert("RGB").resize((224, 224))) for p in photos]
    if not crops:
        crops = [np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)]
    return [crops[i % len(crops)] for i in range(n)]


def _write_arrays_as_before(directory: Path, dec: Decomposition, arrays: dict[str, np.ndarray]) -> None:
    """The writer before 2026-12-07: ``np.save`` of one array after another (a strided array, the maps,
    written one element at a time by numpy)."""
    for name, array in {**decomposition_arrays(dec), **arrays}.items():
        relative, dtype = fmt.array_file(name)
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        np.save(directory / relative, array.astype(dtype, copy=False))


def _timed_write(folder: Path, write: Callable[[Path], None]) -> tuple[float, int]:
    """Seconds from the first byte written by ``write(directory)`` until every file is on the disk
    (``os.sync``), and the bytes written; the directory is removed."""
    directory = Path(tempfile.mkdtemp(dir=folder, prefix=".atlas-write-"))
    try:
        os.sync()  # nothing of an earlier variant left to flush
        start = time.perf_counter()
        write(directory)
        os.sync()
        return time.perf_counter() - start, _folder_bytes(directory)
    finally:
        shutil.rmtree(directory)


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def section_write(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """The disk's rate, then the atlas's arrays as the job writes them when a group ends (one file at a
    time, four at once, four at once without ``O_DIRECT``, and as before 2026-12-07), then its
    thumbnails as the stream writes them (one or four at once); each until on the disk, in
    ``--repeats`` rounds, each with its own disk probe (the ratios are each round's, then their
    median: a shared machine's load moves both). The job uses ``WRITE_THREADS`` (recorded) of them."""
    folder = Path(args.folder)
    disk = disk_write_rate(folder, 64 * MIB)  # whether O_DIRECT works here
    dec, arrays, _ = _vit_b16_arrays(args.classes)
    thumbnails = _thumbnail_pixels(args.thumbnails)

    def arrays_with(threads: int, direct: bool = True) -> Callable[[Path], None]:
        def write(directory: Path) -> None:
            writer = AtlasWriter(directory, threads=threads)
            direct_bytes = atlas_writer._DIRECT_BYTES
            if not direct:  # every array through the page cache, as where O_DIRECT is refused
                atlas_writer._DIRECT_BYTES = sys.maxsize
            try:
                writer.write_decomposition(dec)
                writer.write_arrays(arrays)
            finally:
                atlas_writer._DIRECT_BYTES = direct_bytes

        return write

    def thumbnails_with(threads: int) -> Callable[[Path], None]:
        def write(directory: Path) -> None:
            AtlasWriter(directory, threads=threads).write_thumbnails(list(range(len(thumbnails))), thumbnails)

        return write

    variants: dict[str, Callable[[Path], None]] = {
        "arrays_one_file_at_a_time": arrays_with(1),
        "arrays_4_threads": arrays_with(4),
        "arrays_4_threads_through_the_page_cache": arrays_with(4, direct=False),
        "arrays_as_before": lambda directory: _write_arrays_as_before(directory, dec, arrays),
        "thumbnails_one_at_a_time": thumbnails_with(1),
        "thumbnails_4_threads": thumbnails_with(4),
    }
    disk_rates: list[float] = []
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        disk_rates.append(disk_write_rate(folder, args.disk_mb * MIB)["disk_mb_s"])
        for name, write in variants.items():
            runs[name].append(_timed_write(folder, write))
    figures: dict[str, Any] = {
        "disk_mb_s_median": float(np.median(disk_rates)),
        "disk_mb_s_rounds": disk_rates,
        "direct": disk["direct"],
        "write_threads": WRITE_THREADS,
        "repeats": args.repeats,
    }
    for name, timed in runs.items():
        size = timed[0][1]
        rates = [size / seconds / 1e6 for seconds, _ in timed]
        figures[name] = {
            "bytes": size,
            "mb_s_median": float(np.median(rates)),
            "mb_s_best": max(rates),
            # each round's rate over the disk's in the same round: the machine's load moves both
            "vs_disk_median": float(np.median([rate / d for rate, d in zip(rates, disk_rates, strict=True)])),
        }
    for name in ("thumbnails_one_at_a_time", "thumbnails_4_threads"):
        figures[name]["files_per_s_median"] = (
            figures[name]["mb_s_median"] * 1e6 / figures[name]["bytes"] * len(thumbnails)
        )
    figures["bar_vs_disk"] = 0.7
    out["write"] = figures


def _part(relative: str) -> str:
    top = relative.split("/", 1)[0]
    if relative.startswith("stats/class_"):
        return "stats/class_* (per class)"
    return top + "/" if "/" in relative else "json"


def atlas_bytes_by_part(folder: Path) -> dict[str, int]:
    """An atlas folder's bytes by part (``maps/``, ``thumbs/``, ``stats/``, …), largest first."""
    parts: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            part = _part(path.relative_to(folder).as_posix())
            parts[part] = parts.get(part, 0) + path.stat().st_size
    return dict(sorted(parts.items(), key=lambda item: -item[1]))


def paper_map_bytes(top_k: int = 16, n_bases: int = 2) -> dict[str, int]:
    """The bytes of each paper model's ``maps/`` (query and key, float16), from the format's shapes."""
    sizes = {}
    for model_id in PAPER_MODELS:
        config = KNOWN_HF_MODELS[model_id][1]
        layers, heads, hidden = config["num_hidden_layers"], config["num_attention_heads"], config["hidden_size"]
        grid = config["image_size"] // config["patch_size"]
        columns = n_bases * layers * heads * (hidden // heads) * 2
        sizes[model_id] = columns * top_k * 2 * grid * grid * 2
    return sizes


def section_bytes(args: argparse.Namespace, out: dict[str, Any]) -> None:
    dec, arrays, _ = _vit_b16_arrays(args.classes)
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        writer = AtlasWriter(Path(tmp))
        writer.write_decomposition(dec)
        writer.write_arrays(arrays)
        writer.write_thumbnails(list(range(args.thumbnails)), _thumbnail_pixels(args.thumbnails))
        synthetic = atlas_bytes_by_part(Path(tmp))
    maps = paper_map_bytes()
    out["bytes"] = {
        "vit_b16_synthetic": synthetic,
        "paper_models_maps": maps,
        "paper_models_maps_total": sum(maps.values()),
    }
    if args.atlas:
        out["bytes"]["real_atlas"] = {"path": args.atlas, **atlas_bytes_by_part(Path(args.atlas))}


def quantize_uint8(maps: np.ndarray) -> np.ndarray:
    """``maps [..., T, T]`` kept as uint8 with a per-map offset and step (the map's minimum and range /
    255), returned decoded as float32: what a uint8 atlas would give its readers."""
    flat = maps.astype(np.float32).reshape(*maps.shape[:-2], -1)
    low = flat.min(axis=-1, keepdims=True)
    step = (flat.max(axis=-1, keepdims=True) - low) / 255.0
    step = np.where(step > 0, step, 1.0)
    codes = np.rint((flat - low) / step).astype(np.uint8)
    decoded: np.ndarray = (codes * step + low).reshape(maps.shape).astype(np.float32)
    return decoded


def section_precision(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Every listed image of ``--columns`` signed modes of ``--atlas`` rendered (224 px, both maps,
    the mode's shared scale) from its float16 maps and from their uint8 version."""
    if not args.atlas:
        out["precision"] = {"skipped": "no --atlas"}
        return
    folder = Path(args.atlas)
    query, key, indices = (
        np.load(folder / fmt.array_file(name)[0], mmap_mode="r") for name in ("maps_query", "maps_key", "topk_indices")
    )
    columns = np.argwhere((indices >= 0).any(axis=-1))  # [n, 5]: (basis, layer, head, mode, sign)
    chosen = columns[np.random.default_rng(0).permutation(len(columns))[: args.columns]]
    differences: list[np.ndarray] = []
    moved_peaks = 0  # maps whose outlined peak patch (``mark_peaks``) moves
    for column in map(tuple, chosen):
        filled = np.flatnonzero(indices[column] >= 0)
        q16, k16 = np.asarray(query[column], np.float32)[filled], np.asarray(key[column], np.float32)[filled]
        q8, k8 = quantize_uint8(q16), quantize_uint8(k16)
        scale16, scale8 = map_scale(zip(q16, k16, strict=True)), map_scale(zip(q8, k8, strict=True))
        for a, b, c, d in zip(q16, k16, q8, k8, strict=True):
            exact = render_overlay(a, b, size=224, scale=scale16).astype(np.int16)
            coarse = render_overlay(c, d, size=224, scale=scale8).astype(np.int16)
            differences.append(np.abs(exact - coarse).ravel())
            moved_peaks += (peak_patch(a) != peak_patch(c)) + (peak_patch(b) != peak_patch(d))
    levels = np.concatenate(differences)
    grid = query.shape[-1]
    out["precision"] = {
        "atlas": args.atlas,
        "columns": len(chosen),
        "overlays": len(differences),
        "max_levels": int(levels.max()),
        "mean_levels": float(levels.mean()),
        "p99_levels": float(np.percentile(levels, 99)),
        "share_of_pixels_changed": float((levels > 0).mean()),
        "share_of_maps_whose_peak_patch_moves": moved_peaks / (2 * len(differences)),
        "bytes_per_map_float16": 2 * grid * grid,
        "bytes_per_map_uint8": grid * grid + 8,  # codes + float32 offset and step
    }


def _gil_waits_ms(seconds: float) -> list[float]:
    """How long a thread that wakes every millisecond waits past its alarm, in ms: the stand-in for the
    thread that launches the model's kernels, which needs the GIL each time it wakes. A thread that
    holds the GIL makes it wait up to the switch interval (5 ms); one that lets it go, only the
    scheduler's delay."""
    waits, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        time.sleep(0.001)
        waits.append((time.perf_counter() - start - 0.001) * 1e3)
    return waits


def _pure_python() -> None:
    sum(range(10_000))


def section_thread(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Whether writing thumbnails leaves the GIL to the thread that launches kernels: how long a waking
    thread waits (``_gil_waits_ms``) while another thread encodes thumbnails into memory
    (``encode_thumbnail``: Pillow holds the GIL), writes them to files (``save_thumbnail``: the encoder
    streams into the file without it), runs pure Python (holds it: the worst case) or sleeps (nothing
    in the way), in interleaved rounds."""
    thumbnails = _thumbnail_pixels(32)
    folder = Path(tempfile.mkdtemp(dir=args.folder, prefix=".thumbs-"))

    def to_memory() -> None:
        for image in thumbnails:
            encode_thumbnail(image)

    def to_files() -> None:
        for i, image in enumerate(thumbnails):
            save_thumbnail(image, folder / f"{i}.jpg")

    competitors: dict[str, Callable[[], None]] = {
        "sleeping": lambda: time.sleep(0.005),
        "encode_thumbnail_to_memory": to_memory,
        "save_thumbnail_to_file": to_files,
        "pure_python": _pure_python,
    }
    cpu_ms = {}
    for name in ("encode_thumbnail_to_memory", "save_thumbnail_to_file"):
        start = time.thread_time()
        competitors[name]()
        cpu_ms[name] = (time.thread_time() - start) / len(thumbnails) * 1e3
    waits: dict[str, list[float]] = {name: [] for name in competitors}
    for _ in range(args.rounds):
        for name, work in competitors.items():
            stop = threading.Event()

            def run(work: Callable[[], None] = work, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    work()

            worker = threading.Thread(target=run)
            worker.start()
            waits[name].extend(_gil_waits_ms(1.0))
            stop.set()
            worker.join()
    shutil.rmtree(folder)
    out["thread"] = {
        "cpu_ms_per_thumbnail": cpu_ms,
        "wake_up_wait_ms_median": {name: float(np.median(values)) for name, values in waits.items()},
        "wake_up_wait_ms_p90": {name: float(np.percentile(values, 90)) for name, values in waits.items()},
        "rounds": args.rounds,
        "cores": os.cpu_count(),
    }


def section_job(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """A real job on this machine (``--job-models``, two blocks each as in ``precompute_bench.py --only
    multi``, random weights, ``--job-images`` of the sample photos): the background writer's CPU time
    against the stream's (its share of the host while the kernels are launched), the thumbnails
    written, and where the time went (``JobTimings``)."""
    from dataclasses import asdict

    from precompute.job import run_job
    from precompute.job_config import JobConfig

    folder = optional_sample_dir("imagenet-samples")
    if folder is None:
        out["job"] = {"skipped": "no sample photos"}
        return
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        config = JobConfig(
            models=tuple(args.job_models.split(",")),
            images=str(folder),
            out=Path(tmp),
            limit=args.job_images,
            batch_size=32,
            device="cpu",
            random_init=True,
            overrides=dict(MULTI_OVERRIDES),
            show_progress=False,
        )
        outcome = run_job(config)
        assert outcome is not None
        thumbnails = sum(1 for _ in Path(tmp).rglob("thumbs/*.jpg"))
    timings = outcome.timings
    out["job"] = {
        "models": config.models,
        "images": args.job_images,
        "thumbnails_kept": thumbnails,
        "writer_cpu_share_of_stream": timings.writer_cpu / timings.stream,
        "writer_busy_share_of_stream": timings.writer_busy / timings.stream,
        **{f"{name}_s": value for name, value in asdict(timings).items()},
    }


RUNNERS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], None]] = {
    "write": section_write,
    "bytes": section_bytes,
    "precision": section_precision,
    "thread": section_thread,
    "job": section_job,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", default=tempfile.gettempdir(), help="where to write (the atlases' disk)")
    parser.add_argument("--disk-mb", type=int, default=2048, help="MiB written by the disk probe")
    parser.add_argument("--classes", type=int, default=1000, help="classes of the synthetic atlas's statistics")
    parser.add_argument("--thumbnails", type=int, default=2048, help="thumbnails of the synthetic atlas")
    parser.add_argument("--atlas", help="a real atlas: its bytes by part and its maps' precision")
    parser.add_argument("--columns", type=int, default=200, help="signed modes rendered by the precision section")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the write section")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the thread section")
    parser.add_argument("--job-models", default=",".join(MULTI_MODELS), help="the job section's models")
    parser.add_argument("--job-images", type=int, default=256, help="images of the job section")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    for section in args.only.split(","):
        start = time.perf_counter()
        RUNNERS[section](args, out)
        print(f"== {section} ({time.perf_counter() - start:.1f} s)")
        print(json.dumps(out[section], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
