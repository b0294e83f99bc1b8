"""``python -m precompute o3``: Odd-One-Out attention preference of a model, stored with its atlas."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from precompute.cli import add_weight_options
from precompute.job import resolve_device
from qkatlas.models import ModelLoadError, load_model
from qkatlas.models.base import UnsupportedModelError, ViTAdapter
from qkatlas.o3 import QUERIES, REGIONS, analyse_o3, open_o3_dataset, store_o3_result

DEFAULT_ATLAS_ROOT = Path("atlases")


def build_o3_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precompute o3",
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
    return parser


def run_o3(adapter: ViTAdapter, o3_dir: Path, *, batch_size: int, limit: int | None, progress: bool) -> dict[str, Any]:
    """``analyse_o3`` over a folder, with a progress bar when ``progress``."""
    dataset = open_o3_dataset(o3_dir, limit=limit)
    with tqdm(total=len(dataset.items), desc=f"O3 {adapter.spec.model_id}", unit="img", disable=not progress) as bar:
        return analyse_o3(adapter, dataset, batch_size=batch_size, on_progress=lambda done, _total: bar.update(1))


def format_o3_table(result: dict[str, Any]) -> str:
    """A plain-text table of the per-layer ratios of both queries."""
    lines = [
        f"{'layer':>5} {'depth':>5}  " + "  ".join(f"{q.split('_')[0]}:{r[:4]:>4}" for q in QUERIES for r in REGIONS)
    ]
    for layer, depth in enumerate(result["normalized_depth"]):
        cells = "  ".join(f"{result[q]['layer'][r][layer]:>11.3f}" for q in QUERIES for r in REGIONS)
        lines.append(f"{layer:>5} {depth:>5.2f}  {cells}")
    return "\n".join(lines)


def o3_main(argv: list[str]) -> int:
    args = build_o3_parser().parse_args(argv)
    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        print("error: --batch-size and --limit must be positive", file=sys.stderr)
        return 2
    try:
        adapter = load_model(
            args.model, random_init=args.random_init, seed=args.seed, overrides=dict(args.override) or None
        ).to(resolve_device(args.device))
        result = run_o3(adapter, args.o3, batch_size=args.batch_size, limit=args.limit, progress=not args.no_progress)
    except (ModelLoadError, UnsupportedModelError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    paths = store_o3_result(result, args.out)
    dataset = result["dataset"]
    if args.random_init:
        print("RANDOM WEIGHTS: these ratios describe an untrained model, not the paper's.")
    print(format_o3_table(result))
    print(f"examples: {dataset['n_used']} used, {dataset['n_skipped']} skipped")
    for entry in result["skipped"][:20]:
        print(f"  skipped {entry['name']}: {entry['reason']}")
    for path in paths:
        print(f"O3 results written to {path}")
    return 0
