"""``python -m precompute``: build an atlas from a model and an image collection."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from precompute.job import JobConfig, JobResult, run_job
from qkatlas.atlas.format import atlas_slug
from qkatlas.images import default_source_name
from qkatlas.models import ModelLoadError, model_slug
from qkatlas.models.base import UnsupportedModelError
from qkatlas.progress import RedisProgress
from qkatlas.projection import BASES


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _bases(text: str) -> tuple[str, ...]:
    bases = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [b for b in bases if b not in BASES]
    if unknown or not bases:
        raise argparse.ArgumentTypeError(f"bases must be a comma-separated subset of {','.join(BASES)}")
    return bases


def add_weight_options(parser: argparse.ArgumentParser) -> None:
    """The options every subcommand shares to choose the weights and the device."""
    parser.add_argument("--random-init", action="store_true", help="random weights from the config (offline)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random-init")
    parser.add_argument(
        "--override",
        type=parse_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config override, e.g. depth=2 (repeatable; values parsed as JSON)",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precompute",
        description="Decompose every attention head of a ViT and find each mode's top images; write an atlas.",
        epilog="The paper's analyses: 'python -m precompute o3 --help', 'python -m precompute reproduce --help'.",
    )
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
    parser.add_argument("--bases", type=_bases, default=BASES, help="faithful,exact (default both)")
    parser.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--progress-redis",
        default=os.environ.get("QKATLAS_REDIS_URL"),
        metavar="URL",
        help="also publish progress to this Redis (default: $QKATLAS_REDIS_URL), shown by the dashboard",
    )
    return parser


def _print_summary(result: JobResult) -> None:
    print(f"atlas written to {result.atlas_dir}")
    print(
        f"images: {result.n_images} ({result.n_images - result.n_skipped} scored, {result.n_skipped} skipped); "
        f"wall time {result.wall_seconds:.1f} s; scoring throughput {result.images_per_second:.1f} img/s"
    )
    for entry in result.skipped[:20]:
        print(f"  skipped {entry['source']}: {entry['reason']}")
    if len(result.skipped) > 20:
        print(f"  ... and {len(result.skipped) - 20} more (all listed in manifest.json)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
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
        result = run_job(config, on_progress=reporter)
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


def _progress_reporter(url: str | None, config: JobConfig) -> RedisProgress | None:
    if not url or int(os.environ.get("RANK", "0")) != 0:
        return None
    dataset = config.dataset_name or default_source_name(config.images)
    slug = atlas_slug(model_slug(config.model_id), dataset)
    return RedisProgress(url, slug, config.model_id, dataset)


#: ``python -m precompute <subcommand> ...`` runs a paper analysis (docs/paper-analyses.md); anything
#: else is the atlas job above.
SUBCOMMANDS = ("o3", "reproduce")


def run_subcommand(name: str, argv: list[str]) -> int:
    """Dispatch a subcommand (imported lazily: the atlas job does not need them)."""
    if name == "o3":
        from precompute.o3_command import o3_main

        return o3_main(argv)
    from precompute.reproduce import reproduce_main

    return reproduce_main(argv)
