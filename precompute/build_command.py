"""``python -m precompute [build]``: build an atlas from a model and an image collection."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from precompute.folder_lock import FolderInUseError
from precompute.job import JobOutcome, run_job
from precompute.job_config import JobConfig
from precompute.loading import JobSetupError, atlas_slugs
from precompute.options import add_precision_option, add_weight_options, parse_bases, without_hub_hint
from qkatlas.conventions import BASES
from qkatlas.errors import ActionableError, report_error
from qkatlas.images import default_source_name
from qkatlas.models import ModelLoadError
from qkatlas.models.base import UnsupportedModelError
from qkatlas.models.known_models import MODEL_PRESETS
from qkatlas.progress import RedisProgress

DESCRIPTION = (
    "Decompose every attention head of one or several ViTs and find each mode's top images; write one atlas "
    "per model. Several models share one stream: each image is decoded once."
)


def _presets_help() -> str:
    """The presets for ``--help``: each one's models, one per line; a combined preset by its parts."""
    lines = ["model presets (--models NAME):"]
    for name, models in MODEL_PRESETS.items():
        parts = name.split("+")
        if len(parts) > 1 and all(part in MODEL_PRESETS for part in parts):
            lines.append(f"  {name} ({len(models)} models): {' and '.join(parts)} together")
            continue
        lines.append(f"  {name} ({len(models)} models):")
        lines.extend(f"    {model}" for model in models)
    return "\n".join(lines)


def _gib(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GiB, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the device memory must be positive")
    return int(value * 1024**3)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build atlases (the default subcommand)",
        description=DESCRIPTION,
        epilog=_presets_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        help="HF id, timm name, local checkpoint dir, or 'planted' (repeatable: one atlas per model, one stream)",
    )
    parser.add_argument(
        "--models",
        choices=sorted(MODEL_PRESETS),
        action="append",
        default=[],
        metavar="PRESET",
        help=f"a named list of models ({', '.join(MODEL_PRESETS)}; listed below), added to --model",
    )
    parser.add_argument("--images", required=True, help="image folder tree, flat folder, or text file of paths")
    parser.add_argument("--out", required=True, type=Path, help="atlas root; each atlas is written to OUT/<slug>")
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    add_weight_options(parser)
    parser.add_argument(
        "--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 1)), help="decoding processes"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument(
        "--resume", action="store_true", help="continue every unfinished model from its last checkpoint"
    )
    parser.add_argument(
        "--rebuild-finished",
        action="store_true",
        help="with --resume: rebuild the atlases an earlier run finished (default: keep them)",
    )
    parser.add_argument(
        "--skip-unloadable",
        action="store_true",
        help="leave out models that cannot be loaded (default: stop before any work)",
    )
    parser.add_argument(
        "--device-memory",
        type=_gib,
        default=None,
        metavar="GIB",
        help="memory the models streaming together may use (default: 85%% of what the device has free)",
    )
    parser.add_argument(
        "--decode",
        choices=["auto", "pillow", "nvjpeg"],
        default="auto",
        help="JPEG decoder: nvJPEG on the GPU (Pillow for files it cannot read) or Pillow in --workers processes; "
        "auto: nvJPEG where CUDA has it",
    )
    add_precision_option(parser)
    parser.add_argument("--dataset-name", default=None, help="defaults to the image folder's name")
    parser.add_argument("--bases", type=parse_bases, default=BASES, help="faithful,exact (default both)")
    parser.add_argument(
        "--no-statistics",
        action="store_true",
        help="skip the per-mode score statistics (distributions, class profiles; the atlas then has no mode "
        "index values, search by class or distribution charts)",
    )
    parser.add_argument(
        "--effects",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="measure the attention each mode moves over the dataset (mean, distribution, top images; exact "
        "basis): one softmax per mode and image, several times the scoring's cost on a CPU (docs/benchmarks.md); "
        "off by default",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="save the stream's state at most this often (default 30); never more often than ten times the "
        "last save's duration, so large states on a slow disk cost the stream at most a tenth of its time",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--progress-redis",
        default=os.environ.get("QKATLAS_REDIS_URL"),
        metavar="URL",
        help="also publish progress to this Redis (default: $QKATLAS_REDIS_URL), shown by the dashboard",
    )
    parser.set_defaults(run=run)


def _print_summary(outcome: JobOutcome) -> None:
    t = outcome.timings
    print(
        f"time: {t.setup:.1f} s loading and decomposing the models, {t.calibration:.1f} s calibrating the "
        f"statistics, {t.stream:.1f} s scoring, {t.drain:.1f} s finishing the queued writes, "
        f"{t.finish:.1f} s taking the atlases to the host and {t.publish_wait:.1f} s waiting for them to be "
        f"written ({t.publish:.1f} s writing them, beside the next group's stream); thumbnails and "
        f"checkpoints kept the writer busy {t.writer_busy:.1f} s ({t.writer_cpu:.1f} s of CPU), and scoring "
        f"waited {t.writer_waited:.1f} s for it"
    )
    for model_id, reason in outcome.unloadable.items():
        print(f"not built: {model_id} could not be loaded ({reason})")
    for result in outcome.results:
        if result.kept:
            print(f"kept the finished atlas {result.atlas_dir}")
            continue
        print(f"atlas written to {result.atlas_dir}")
        print(
            f"  images: {result.n_images} ({result.n_images - result.n_skipped} scored, {result.n_skipped} skipped); "
            f"scoring throughput {result.images_per_second:.1f} img/s; {result.wall_seconds:.1f} s since the start"
        )
    skipped = outcome.results[0].skipped if outcome.results else []
    for entry in skipped[:20]:
        print(f"  skipped {entry.source}: {entry.reason}")
    if len(skipped) > 20:
        print(f"  ... and {len(skipped) - 20} more (all listed in manifest.json)")


def _model_ids(args: argparse.Namespace) -> tuple[str, ...]:
    """The ``--model`` ids in the order given, then the ``--models`` presets' models; each model once."""
    ids = [*args.model, *(model for preset in args.models for model in MODEL_PRESETS[preset])]
    return tuple(dict.fromkeys(ids))


def run(args: argparse.Namespace) -> int:
    if args.top_k < 1 or args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        print("error: --top-k, --batch-size and --limit must be positive", file=sys.stderr)
        return 2
    models = _model_ids(args)
    if not models:
        print("error: give at least one --model or --models PRESET", file=sys.stderr)
        return 2
    config = JobConfig(
        models=models,
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
        revision=args.revision,
        overrides=dict(args.override),
        dataset_name=args.dataset_name,
        bases=args.bases,
        checkpoint_every_s=args.checkpoint_every,
        show_progress=not args.no_progress,
        skip_unloadable=args.skip_unloadable,
        rebuild_finished=args.rebuild_finished,
        device_memory=args.device_memory,
        decode=args.decode,
        statistics=not args.no_statistics,
        effects=args.effects,
        precision=args.precision,
    )
    reporter = _progress_reporter(args.progress_redis, config)
    try:
        outcome = run_job(config, on_progress=reporter)
    except FolderInUseError as exc:  # the running job's progress is its own to report
        report_error(exc, debug=args.debug)
        return 1
    except (ModelLoadError, UnsupportedModelError, ValueError, RuntimeError, ActionableError) as exc:
        if reporter:
            reporter.finish("failed", str(exc))
        report_error(exc, debug=args.debug, hint=without_hub_hint(exc))
        return 1
    if reporter:
        reporter.finish("done")
    if outcome is not None:  # None on the non-zero ranks of a distributed run
        _print_summary(outcome)
    return 0


def _progress_reporter(url: str | None, config: JobConfig) -> RedisProgress | None:
    if not url or int(os.environ.get("RANK", "0")) != 0:
        return None
    dataset = config.dataset_name or default_source_name(config.images)
    try:
        slugs = atlas_slugs(config.models, dataset)
    except JobSetupError:
        return None  # the job itself reports it
    return RedisProgress(url, list(zip(slugs, config.models, strict=True)), dataset)
