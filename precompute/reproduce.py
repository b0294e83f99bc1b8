"""``python -m precompute reproduce``: the paper's figures in one command (docs/paper-analyses.md).

For every model (default: the paper's 13, docs/method.md#models) it decomposes every head and writes

- ``fig3_weighted_cosine.{png,svg,csv}``: per-layer σ-weighted cosine vs normalized depth, all models,
  with each width's random baseline band ``±1.96/√d`` (paper Fig. 3);
- ``spectra/<model-slug>.{png,svg,csv}``: every head's spectrum, ``σ_n`` and ``cos_n`` per mode;
- with ``--o3 DIR``, ``fig2_o3.{png,svg,csv}``: same-object / different-object / background attention
  ratios of the target and distractor queries vs normalized depth (paper Fig. 2), and each model's
  ``o3.json`` under ``OUT/atlases`` (in its atlas when ``--images`` built one);
- with ``--images SOURCE``, each model's full atlas under ``OUT/atlases`` (the precompute job).

Weights are chosen per model (``choose_weights``): a local checkpoint folder's own (it never needs
the hub), the hub's, or, for a hub id while the hub is unreachable (or for every model with
``--random-init``), random weights built from the model's real config. Random weights are said in
stdout, in the figure titles and legends and in the CSVs (``RANDOM WEIGHTS — offline``): the first
line of each CSV names the weights of all its models, and Fig. 3 and Fig. 2's CSVs have a
``weights`` column per row.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from precompute.folder_lock import hold_output_folder
from precompute.job import run_job
from precompute.job_config import JobConfig
from precompute.options import add_precision_option, add_weight_options
from qkatlas.atlas.contract import AtlasSummary, O3Record
from qkatlas.device import resolve_device
from qkatlas.errors import ActionableError, report_error
from qkatlas.models import ModelLoadError, load_model, local_checkpoint, model_slug, needs_hub
from qkatlas.models.base import UnsupportedModelError
from qkatlas.models.hub import hub_reachable
from qkatlas.models.known_models import PAPER_MODELS
from qkatlas.o3 import QUERIES, REGIONS, analyse_o3_folder, format_o3_table, store_o3_result
from qkatlas.summaries import summarize_decomposition
from qkatlas.svd import Decomposition, decompose


@dataclass(frozen=True)
class Weights:
    """Which weights one model runs on: ``random_reason`` is None for its own weights, which
    ``own`` names (the hub's pretrained ones, a local checkpoint's, the planted model's)."""

    random_reason: str | None
    own: str = "pretrained weights"

    @property
    def random_init(self) -> bool:
        return self.random_reason is not None

    @property
    def label(self) -> str:
        """Printed in stdout, in the figure titles and in the CSVs."""
        if self.random_reason is None:
            return self.own
        return f"RANDOM WEIGHTS — {self.random_reason}"


def choose_weights(model_id: str, force_random: bool) -> Weights:
    """``model_id``'s weights: random when asked to; a local checkpoint folder's own (it never needs
    the hub, so it is never replaced by random weights); the planted model's hand-set ones; random for
    a hub id while the hub is unreachable (a few-second probe, made only for such an id); else the
    hub's."""
    if force_random:
        return Weights("--random-init")
    if local_checkpoint(model_id) is not None:
        return Weights(None, own="local checkpoint weights")
    if not needs_hub(model_id):
        return Weights(None, own="hand-set weights")
    if not hub_reachable():
        return Weights("offline")
    return Weights(None)


def weights_label(results: Sequence[ModelResult]) -> str:
    """What a figure or CSV of several models ran on: their one label, or each label with its models."""
    models: dict[str, list[str]] = {}
    for result in results:
        models.setdefault(result.weights.label, []).append(result.model_id)
    if len(models) == 1:
        return next(iter(models))
    return "MIXED WEIGHTS — " + "; ".join(f"{label}: {', '.join(ids)}" for label, ids in models.items())


@dataclass
class ModelResult:
    """What the figures need of one model: ``summary`` is the atlas summary of ``dec``."""

    model_id: str
    slug: str
    weights: Weights
    dec: Decomposition
    summary: AtlasSummary
    o3: O3Record | None
    seconds: float


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="the paper's figures (Fig. 3, spectra, Fig. 2 with --o3) as PNG, SVG and CSV",
        description=(
            "Reproduce the paper's figures: Fig. 3 (weighted cosine vs depth) and per-head spectra for every "
            "model, plus Fig. 2 (odd-one-out attention) with --o3; PNG, SVG and CSV. Offline, hub models run on "
            "random weights and say so; local checkpoint folders always run on their own weights."
        ),
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder for figures, CSVs and atlases/")
    parser.add_argument("--o3", type=Path, default=None, help="O3 folder (images/, targ_images/, dist_images/)")
    parser.add_argument(
        "--models", nargs="+", default=list(PAPER_MODELS), metavar="ID", help="model ids (default: the paper's 13)"
    )
    parser.add_argument("--images", default=None, help="also build each model's atlas over this image source")
    add_precision_option(parser)  # of those atlases
    add_weight_options(parser)  # --random-init forces random weights even when the hub is reachable
    parser.add_argument("--o3-limit", type=int, default=None, metavar="N", help="use only the first N O3 examples")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def analyse_model(model_id: str, args: argparse.Namespace, weights: Weights) -> ModelResult:
    """SVD (and with ``--images`` the atlas, with ``--o3`` the O3 analysis) of one model."""
    clock = time.perf_counter()
    overrides = dict(args.override) or None
    adapter = load_model(
        model_id, random_init=weights.random_init, seed=args.seed, revision=args.revision, overrides=overrides
    )
    dec = decompose(adapter.weights())
    atlas_root = args.out / "atlases"
    if args.images is not None:
        config = JobConfig(
            models=(model_id,),
            images=args.images,
            out=atlas_root,
            device=args.device,
            random_init=weights.random_init,
            seed=args.seed,
            revision=args.revision,
            overrides=dict(args.override),
            show_progress=not args.no_progress,
            precision=args.precision,
        )
        outcome = run_job(config)
        for result in outcome.results if outcome is not None else []:
            print(f"  atlas written to {result.atlas_dir}")
    o3 = None
    if args.o3 is not None:
        adapter.to(resolve_device(args.device))
        o3 = analyse_o3_folder(adapter, args.o3, batch_size=8, limit=args.o3_limit, progress=not args.no_progress)
        for path in store_o3_result(o3, atlas_root):
            print(f"  O3 results written to {path}")
    summary = summarize_decomposition(dec)
    return ModelResult(model_id, model_slug(model_id), weights, dec, summary, o3, time.perf_counter() - clock)


# --------------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------------


def _titled(title: str, results: Sequence[ModelResult]) -> str:
    """``title``, with a second line naming the weights when any model ran on random weights."""
    return f"{title}\n{weights_label(results)}" if any(r.weights.random_init for r in results) else title


def _legend(result: ModelResult) -> str:
    return f"{result.model_id} (random weights)" if result.weights.random_init else result.model_id


def _save_figure(figure: Figure, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=150, bbox_inches="tight")
    return paths


def _write_csv(path: Path, label: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """A CSV whose first line is a ``#`` comment naming the weights (then a header row, then data)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(f"# {label}\n")
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _layer_curve(values: Sequence[float | None]) -> np.ndarray:
    """A summary curve as floats, NaN where a layer has no value (matplotlib leaves a gap)."""
    return np.array([np.nan if value is None else value for value in values], dtype=np.float64)


def write_fig3(results: Sequence[ModelResult], out: Path) -> list[Path]:
    """Weighted cosine vs normalized depth for all models, with each width's ±1.96/√d band."""
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    axes = figure.add_subplot()
    colours = _colours(len(results))
    for d_model in sorted({r.dec.shape[3] for r in results}):
        band = 1.96 / np.sqrt(d_model)
        axes.axhspan(-band, band, color="0.5", alpha=0.12, lw=0)
        axes.annotate(f"±1.96/√{d_model}", (1.0, band), fontsize=7, color="0.35", ha="right", va="bottom")
    for result, colour in zip(results, colours, strict=True):
        curve = _layer_curve(result.summary.layer_weighted_cos)  # a layer without an active head is a gap
        axes.plot(result.summary.normalized_depth, curve, "-o", ms=3, color=colour)
        axes.lines[-1].set_label(_legend(result))
    axes.axhline(0.0, color="0.3", lw=0.6)
    axes.set(xlabel="normalized depth ℓ/(L−1)", ylabel="σ-weighted cosine (mean over heads)", xlim=(-0.02, 1.02))
    axes.set_title(_titled("Weighted cosine of query-key singular modes vs depth (paper Fig. 3)", results))
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    paths = _save_figure(figure, out / "fig3_weighted_cosine")
    # weighted_cos_scaled: the paper's released code also divides by d_head (a labelled variant,
    # docs/method.md#cosine-and-layer-summaries).
    rows = [
        (
            r.model_id,
            layer,
            depth,
            r.summary.layer_weighted_cos[layer],
            r.summary.layer_weighted_cos_scaled[layer],
            r.summary.baseline_95,
            *r.dec.shape[2:],
            r.weights.label,
        )
        for r in results
        for layer, depth in enumerate(r.summary.normalized_depth)
    ]
    header = (
        "model",
        "layer",
        "normalized_depth",
        "weighted_cos",
        "weighted_cos_scaled",
        "baseline_95",
        "d_head",
        "d_model",
        "weights",
    )
    return [*paths, _write_csv(out / "fig3_weighted_cosine.csv", weights_label(results), header, rows)]


def write_spectra(result: ModelResult, out: Path) -> list[Path]:
    """Every head's spectrum as two heatmaps (rows = layer·head, columns = mode): σ_n / σ_0 and cos_n."""
    n_layers, n_heads, n_modes, _ = result.dec.shape
    sigma = result.dec.sigma.reshape(n_layers * n_heads, n_modes)
    # Inactive modes have no cosine: NaN leaves their cells blank instead of painting cos = 0.
    cos = np.where(result.dec.active, result.dec.cos, np.nan).reshape(n_layers * n_heads, n_modes)
    height = min(max(4.0, n_layers * n_heads / 36), 16.0)
    figure = Figure(figsize=(11, height), layout="constrained")
    panels = (
        ("σ_n / σ_0", sigma / np.maximum(sigma[:, :1], np.finfo(np.float64).tiny), "viridis", (0.0, 1.0)),
        ("cos_n = u_n·v_n", cos, "RdBu_r", (-1.0, 1.0)),
    )
    for column, (name, values, colormap, (low, high)) in enumerate(panels):
        axes = figure.add_subplot(1, 2, column + 1)
        image = axes.imshow(values, aspect="auto", cmap=colormap, vmin=low, vmax=high, interpolation="nearest")
        step = max(1, n_layers // 12)
        axes.set_yticks([layer * n_heads + (n_heads - 1) / 2 for layer in range(0, n_layers, step)])
        axes.set_yticklabels([f"L{layer}" for layer in range(0, n_layers, step)], fontsize=7)
        axes.set(xlabel="mode n (0 = largest σ)", ylabel=f"layer (each row one of {n_heads} heads)", title=name)
        for boundary in range(1, n_layers):
            axes.axhline(boundary * n_heads - 0.5, color="0.5", lw=0.4)
        figure.colorbar(image, ax=axes, fraction=0.05)
    figure.suptitle(_titled(f"{result.model_id}: per-head spectra", [result]))
    stem = out / "spectra" / result.slug
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = _save_figure(figure, stem)
    dec = result.dec
    rows = [
        (
            layer,
            head,
            mode,
            dec.sigma[layer, head, mode],
            dec.cos[layer, head, mode],
            int(dec.degenerate[layer, head, mode]),
        )
        for layer in range(n_layers)
        for head in range(n_heads)
        for mode in range(n_modes)
    ]
    header = ("layer", "head", "mode", "sigma", "cos", "degenerate")
    return [*paths, _write_csv(stem.with_suffix(".csv"), result.weights.label, header, rows)]


def write_fig2(results: Sequence[ModelResult], out: Path) -> list[Path]:
    """Same-object / different-object / background ratios vs depth: rows = query, columns = region."""
    with_o3 = [r for r in results if r.o3 is not None]
    figure = Figure(figsize=(14, 7.5), layout="constrained")
    grid = figure.subplots(len(QUERIES), len(REGIONS), sharex=True, sharey=True, squeeze=False)
    colours = _colours(len(with_o3))
    for q, query in enumerate(QUERIES):
        for g, region in enumerate(REGIONS):
            axes = grid[q, g]
            for result, colour in zip(with_o3, colours, strict=True):
                assert result.o3 is not None
                axes.plot(result.o3.normalized_depth, result.o3.query(query).layer.of(region), "-o", ms=3, color=colour)
                if q == 0 and g == 0:
                    axes.lines[-1].set_label(_legend(result))
            chance = float(np.mean([r.o3.query(query).chance.of(region) for r in with_o3 if r.o3 is not None]))
            axes.axhline(chance, color="0.4", ls="--", lw=0.8)
            axes.set_title(f"{query.replace('_', ' ')}: {region.replace('_', ' ')}", fontsize=10)
            if q == len(QUERIES) - 1:
                axes.set_xlabel("normalized depth ℓ/(L−1)")
    grid[0, 0].set_ylim(0.0, 1.0)
    figure.supylabel("share of the query's attention over patches (mean over heads and images)")
    figure.legend(fontsize=7, loc="outside right center", frameon=False)
    figure.suptitle(
        _titled("Odd-one-out: where target and distractor queries attend (paper Fig. 2; dashed: uniform)", with_o3)
    )
    paths = _save_figure(figure, out / "fig2_o3")
    rows = []
    for result in with_o3:
        assert result.o3 is not None
        for query in QUERIES:
            table = result.o3.query(query)
            for layer, depth in enumerate(result.o3.normalized_depth):
                rows.append(
                    (
                        result.model_id,
                        query,
                        layer,
                        depth,
                        *(table.layer.of(region)[layer] for region in REGIONS),
                        *(table.layer_std.of(region)[layer] for region in REGIONS),
                        *(table.chance.of(region) for region in REGIONS),
                        result.o3.dataset.n_used,
                        result.weights.label,
                    )
                )
    header = (
        "model",
        "query",
        "layer",
        "normalized_depth",
        *REGIONS,
        *(f"{region}_std" for region in REGIONS),
        *(f"chance_{region}" for region in REGIONS),
        "n_images",
        "weights",
    )
    return [*paths, _write_csv(out / "fig2_o3.csv", weights_label(with_o3), header, rows)]


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    palette = colormaps["tab20" if n > 10 else "tab10"]
    return [palette(i % palette.N) for i in range(n)]


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """With ``--images`` or ``--o3`` (written into ``OUT/atlases``), hold that atlas root's lock throughout."""
    writes_atlases = args.images is not None or args.o3 is not None
    try:
        with hold_output_folder(args.out / "atlases") if writes_atlases else contextlib.nullcontext():
            return _run(args)
    except ActionableError as exc:
        report_error(exc, debug=args.debug)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.o3_limit is not None and args.o3_limit < 1:
        print("error: --o3-limit must be positive", file=sys.stderr)
        return 2
    clock = time.perf_counter()
    plan = {model_id: choose_weights(model_id, args.random_init) for model_id in args.models}
    random = [model_id for model_id, weights in plan.items() if weights.random_init]
    if random:
        label = next(plan[model_id].label for model_id in random)
        why = "--random-init was given" if args.random_init else "the model hub is unreachable"
        which = "every model below is" if len(random) == len(plan) else f"{', '.join(random)} are"
        print(
            f"{label}: {why}, so {which} built from its real config with random weights. "
            "Their figures show the method's pipeline, NOT the paper's findings."
        )
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[ModelResult] = []
    failures: list[tuple[str, str]] = []
    written: list[Path] = []
    for number, model_id in enumerate(args.models, start=1):
        print(f"[{number}/{len(args.models)}] {model_id}", flush=True)
        try:
            result = analyse_model(model_id, args, plan[model_id])
        except (ModelLoadError, UnsupportedModelError, ValueError, RuntimeError) as exc:
            if args.debug:
                traceback.print_exception(exc)
            print(f"  failed: {exc}", file=sys.stderr)
            failures.append((model_id, str(exc)))
            continue
        finally:
            gc.collect()
        curve = _layer_curve(result.summary.layer_weighted_cos)
        lowest = np.nanmin(curve) if np.isfinite(curve).any() else np.nan
        n_layers, n_heads, d_head, d_model = result.dec.shape
        print(
            f"  {n_layers} layers × {n_heads} heads, d={d_model}, d_head={d_head}: weighted cosine "
            f"{curve[0]:+.3f} (first) → {lowest:+.3f} (min) → {curve[-1]:+.3f} (last); {result.seconds:.1f} s"
        )
        if result.o3 is not None:
            print(format_o3_table(result.o3))
        written += write_spectra(result, args.out)
        results.append(result)
    if results:
        written += write_fig3(results, args.out)
        if args.o3 is not None and any(r.o3 is not None for r in results):
            written += write_fig2(results, args.out)
    done = f"{len(results)} of {len(args.models)} models done in {time.perf_counter() - clock:.1f} s"
    print(f"{done} ({weights_label(results) if results else 'no weights loaded'})")
    for path in written:
        print(f"  wrote {path}")
    for model_id, reason in failures:
        print(f"  FAILED {model_id}: {reason}", file=sys.stderr)
    return 0 if results and not failures else 1
