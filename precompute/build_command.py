"""``python -m precompute [build]``: build an atlas from a model and an image collection."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from precompute.job import JobConfig, JobResult, ProgressFn, run_job
from precompute.options import add_weight_options, parse_bases
from qkatlas.atlas.format import atlas_slug
from qkatlas.conventions import BASES
from qkatlas.images import default_source_name
from qkatlas.models import ModelLoadError, model_slug
from qkatlas.models.base import UnsupportedModelError
from qkatlas.progress import RedisProgress

DESCRIPTION = "Decompose every attention head of a ViT and find each mode's top images; write an atlas."


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("build", help="build an atlas (the default subcommand)", description=DESCRIPTION)
    parser.add_argument("--model", required=True, help="HF id, timm name, local checkpoint dir, or 'planted'")
    parser.add_argument("--images", required=True, help="image folder tree, flat folder, or text file of paths")
    parser.add_argument("--out", required=True, type=Path, help="atlas root; the atlas is written to OUT/<slug>")
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    add_weight_options(parser)
    parser.add_argument(
        "--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 1)), help="decoding processes"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--dataset-name", default=None, help="defaults to the image folder's name")
    parser.add_argument("--bases", type=parse_bases, default=BASES, help="faithful,exact (default both)")
    parser.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--progress-redis",
        default=os.environ.get("QKATLAS_REDIS_URL"),
        metavar="URL",
        help="also publish progress to this Redis (default: $QKATLAS_REDIS_URL), shown by the dashboard",
    )
    parser.set_defaults(run=run)


def _print_summary(result: JobResult) -> None:
    print(f"atlas written to {result.atlas_dir}")
    print(
        f"images: {result.n_images} ({result.n_images - result.n_skipped} scored, {result.n_skipped} skipped); "
        f"wall time {result.wall_seconds:.1f} s; scoring throughput {result.images_per_second:.1f} img/s"
    )
    for entry in result.skipped[:20]:
        print(f"  skipped {entry.source}: {entry.reason}")
    if len(result.skipped) > 20:
        print(f"  ... and {len(result.skipped) - 20} more (all listed in manifest.json)")


def run(args: argparse.Namespace) -> int:
    if args.top_k < 1 or args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        print("error: --top-k, --batch-size and --limit must be positive", file=sys.stderr)
        return 2
    config = JobConfig(
        model_id=args.model,
        images=args.images,
        out=args.out,
        top_k=args.top_k,
        batch_size=args.batch_size,
        device=args.device,
        workers=args.workers,
        limit=args.limit,
        resume=args.resume,
        random_init=args.random_init,
        seed=args.seed,
        overrides=dict(args.override),
        dataset_name=args.dataset_name,
        bases=args.bases,
        checkpoint_every_s=args.checkpoint_every,
        show_progress=not args.no_progress,
    )
    reporter = _progress_reporter(args.progress_redis, config)
    try:
        result = run_job(config, on_progress=_for_model(reporter, config))
    except (ModelLoadError, UnsupportedModelError, ValueError, RuntimeError) as exc:
        if reporter:
            reporter.finish("failed", str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if reporter:
        reporter.finish("done")
    if result is not None:  # None on the non-zero ranks of a distributed run
        _print_summary(result)
    return 0


def _slug(config: JobConfig) -> str:
    return atlas_slug(model_slug(config.model_id), config.dataset_name or default_source_name(config.images))


def _progress_reporter(url: str | None, config: JobConfig) -> RedisProgress | None:
    if not url or int(os.environ.get("RANK", "0")) != 0:
        return None
    dataset = config.dataset_name or default_source_name(config.images)
    return RedisProgress(url, [(_slug(config), config.model_id)], dataset)


def _for_model(reporter: RedisProgress | None, config: JobConfig) -> ProgressFn | None:
    if reporter is None:
        return None
    slug = _slug(config)
    return lambda phase, done, total: reporter(slug, phase, done, total)
