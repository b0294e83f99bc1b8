"""``python -m precompute o3``: Odd-One-Out attention preference of a model, stored with its atlas."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from precompute.folder_lock import hold_output_folder
from precompute.options import add_weight_options, without_hub_hint
from qkatlas.device import resolve_device
from qkatlas.errors import ActionableError, report_error
from qkatlas.models import ModelLoadError, load_model
from qkatlas.models.base import UnsupportedModelError
from qkatlas.o3 import analyse_o3_folder, format_o3_table, store_o3_result

DEFAULT_ATLAS_ROOT = Path("atlases")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "o3",
        help="odd-one-out attention preference (paper Fig. 2), stored with the model's atlas",
        description=(
            "Odd-One-Out attention preference (paper Fig. 2): per layer and head, the share of the target "
            "and distractor queries' attention on the same object, a different object and the background. "
            "Written as o3.json into the model's atlas under --out (or OUT/<model-slug>__o3.json)."
        ),
    )
    parser.add_argument("--model", required=True, help="HF id, timm name, local checkpoint dir, or 'planted'")
    parser.add_argument("--o3", required=True, type=Path, help="O3 folder: images/, targ_images/, dist_images/")
    parser.add_argument("--out", type=Path, default=DEFAULT_ATLAS_ROOT, help="atlas root (default: ./atlases)")
    add_weight_options(parser)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N examples")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        print("error: --batch-size and --limit must be positive", file=sys.stderr)
        return 2
    try:
        with hold_output_folder(args.out):  # the atlases it writes into are not another job's to race on
            adapter = load_model(
                args.model,
                random_init=args.random_init,
                seed=args.seed,
                revision=args.revision,
                overrides=dict(args.override) or None,
            ).to(resolve_device(args.device))
            result = analyse_o3_folder(
                adapter, args.o3, batch_size=args.batch_size, limit=args.limit, progress=not args.no_progress
            )
            paths = store_o3_result(result, args.out)
    except (ModelLoadError, UnsupportedModelError, ValueError, RuntimeError, ActionableError) as exc:
        report_error(exc, debug=args.debug, hint=without_hub_hint(exc))
        return 1
    if args.random_init:
        print("RANDOM WEIGHTS: these ratios describe an untrained model, not the paper's.")
    print(format_o3_table(result))
    print(f"examples: {result.dataset.n_used} used, {result.dataset.n_skipped} skipped")
    for entry in result.skipped[:20]:
        print(f"  skipped {entry.name}: {entry.reason}")
    for path in paths:
        print(f"O3 results written to {path}")
    return 0
