"""File names and array layouts of an atlas directory (documented in docs/atlas-format.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkatlas.slugs import slugify

if TYPE_CHECKING:
    from qkatlas.atlas.contract import AtlasManifest

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
IMAGES = "images.json"
PARTIAL_DIR = ".partial"
THUMBS_DIR = "thumbs"

#: name → (relative path, dtype); shapes follow from the manifest (see ``expected_shapes``).
ARRAYS: dict[str, tuple[str, str]] = {
    "U": ("svd/U.npy", "float32"),
    "V": ("svd/V.npy", "float32"),
    "sigma": ("svd/sigma.npy", "float64"),
    "cos": ("svd/cos.npy", "float64"),
    "degenerate": ("svd/degenerate.npy", "bool"),
    "query_offset": ("svd/query_offset.npy", "float64"),
    "topk_indices": ("topk/indices.npy", "int64"),
    "topk_scores": ("topk/scores.npy", "float32"),
    "maps_query": ("maps/query.npy", "float16"),
    "maps_key": ("maps/key.npy", "float16"),
}

#: Each column's best score left out of its top-K (format 6, when ``manifest.ties`` is set): ``[B, L, H, M, 2]``.
TIES_ARRAYS: dict[str, tuple[str, str]] = {"topk_runner_up": ("topk/runner_up.npy", "float32")}


#: Per-mode statistics (format 2, when ``manifest.statistics`` is set); the ``class_`` ones only when
#: the dataset has class labels, the ``sample_`` ones only when ``statistics.samples`` is set (format 4).
#: Shapes: ``statistics_shapes``.
STATISTICS_ARRAYS: dict[str, tuple[str, str]] = {
    "stats_count": ("stats/count.npy", "int64"),
    "stats_firing": ("stats/firing.npy", "int64"),
    "stats_mean": ("stats/mean.npy", "float64"),
    "stats_std": ("stats/std.npy", "float64"),
    "stats_min": ("stats/min.npy", "float32"),
    "stats_max": ("stats/max.npy", "float32"),
    "stats_bin_low": ("stats/bin_low.npy", "float64"),
    "stats_bin_width": ("stats/bin_width.npy", "float64"),
    "stats_histogram": ("stats/histogram.npy", "int64"),
    "class_count": ("stats/class_count.npy", "int64"),
    "class_mean": ("stats/class_mean.npy", "float32"),
    "class_top": ("stats/class_top.npy", "int32"),
    "class_top_selectivity": ("stats/class_top_selectivity.npy", "float32"),
    "class_modes": ("stats/class_modes.npy", "int64"),
    "class_modes_selectivity": ("stats/class_modes_selectivity.npy", "float32"),
    "sample_indices": ("stats/sample_indices.npy", "int64"),
    "sample_scores": ("stats/sample_scores.npy", "float32"),
    "sample_fires": ("stats/sample_fires.npy", "bool"),
}


#: The attention moved by each mode (format 5, when ``manifest.effects.computed``), one entry per mode
#: ``[L, H, M]`` (both signs share it); shapes: ``effects_shapes``.
EFFECTS_ARRAYS: dict[str, tuple[str, str]] = {
    "effects_count": ("effects/count.npy", "int64"),
    "effects_mean": ("effects/mean.npy", "float64"),
    "effects_std": ("effects/std.npy", "float64"),
    "effects_min": ("effects/min.npy", "float32"),
    "effects_max": ("effects/max.npy", "float32"),
    "effects_bin_low": ("effects/bin_low.npy", "float64"),
    "effects_bin_width": ("effects/bin_width.npy", "float64"),
    "effects_histogram": ("effects/histogram.npy", "int64"),
    "effects_top_indices": ("effects/top_indices.npy", "int64"),
    "effects_top_values": ("effects/top_values.npy", "float32"),
}


def effects_shapes(manifest: AtlasManifest) -> dict[str, tuple[int, ...]]:
    """The shape of every effects array the manifest promises (none when the effects were not measured)."""
    info = manifest.effects
    if not info.computed or info.n_bins is None or info.top_images is None:
        return {}
    model = manifest.model
    modes = (model.n_layers, model.n_heads, model.d_head)
    shapes: dict[str, tuple[int, ...]] = {name: modes for name in EFFECTS_ARRAYS}
    shapes["effects_histogram"] = (*modes, info.n_bins + 2)
    shapes["effects_top_indices"] = shapes["effects_top_values"] = (*modes, info.top_images)
    return shapes


def array_file(name: str) -> tuple[str, str]:
    """``(relative path, dtype)`` of the array ``name`` of any of the tables above."""
    for table in (ARRAYS, STATISTICS_ARRAYS, EFFECTS_ARRAYS, TIES_ARRAYS):
        if name in table:
            return table[name]
    raise KeyError(name)


def _signed_modes(manifest: AtlasManifest) -> tuple[int, ...]:
    """``(B, L, H, M, 2)``: one entry per column of the atlas."""
    model = manifest.model
    return (len(manifest.bases), model.n_layers, model.n_heads, model.d_head, 2)


def ties_shapes(manifest: AtlasManifest) -> dict[str, tuple[int, ...]]:
    """The runner-up array's shape when the atlas has the tie check (none before format 6)."""
    return {"topk_runner_up": _signed_modes(manifest)} if manifest.ties is not None else {}


def statistics_shapes(manifest: AtlasManifest) -> dict[str, tuple[int, ...]]:
    """The shape of every statistics array the manifest promises (none when it has no statistics)."""
    info = manifest.statistics
    if info is None:
        return {}
    columns = _signed_modes(manifest)
    shapes: dict[str, tuple[int, ...]] = {
        name: columns for name in STATISTICS_ARRAYS if name.startswith("stats_") and name != "stats_histogram"
    }
    shapes["stats_histogram"] = (*columns, info.n_bins + 2)
    if info.samples is not None:
        sampled = (*columns, info.samples.bands, info.samples.per_band)
        shapes |= {"sample_indices": sampled, "sample_scores": sampled, "sample_fires": sampled}
    n_classes = len(info.classes)
    if n_classes:
        shapes |= {
            "class_count": (n_classes,),
            "class_mean": (n_classes, *columns),
            "class_top": (*columns, info.top_classes),
            "class_top_selectivity": (*columns, info.top_classes),
            "class_modes": (n_classes, columns[0], info.class_modes),
            "class_modes_selectivity": (n_classes, columns[0], info.class_modes),
        }
    return shapes


def expected_shapes(manifest: AtlasManifest) -> dict[str, tuple[int, ...]]:
    """The shape of every array of an atlas, derived from its manifest (statistics: ``statistics_shapes``)."""
    model = manifest.model
    n_layers, n_heads, n_modes = model.n_layers, model.n_heads, model.d_head
    d_model, grid = model.d_model, model.grid
    k = manifest.top_k
    head_modes = (n_layers, n_heads, n_modes)
    ranked = (*_signed_modes(manifest), k)
    return {
        "U": (*head_modes, d_model),
        "V": (*head_modes, d_model),
        "sigma": head_modes,
        "cos": head_modes,
        "degenerate": head_modes,
        "query_offset": head_modes,
        "topk_indices": ranked,
        "topk_scores": ranked,
        "maps_query": (*ranked, grid, grid),
        "maps_key": (*ranked, grid, grid),
    }


def atlas_slug(model_slug: str, dataset_name: str) -> str:
    return f"{model_slug}__{slugify(dataset_name)}"


def thumbnail_name(index: int) -> str:
    return f"{THUMBS_DIR}/{index:08d}.jpg"


#: Odd-One-Out results (``qkatlas.o3``) stored inside an atlas directory.
O3 = "o3.json"


def o3_sidecar_name(model_slug: str) -> str:
    """File name, directly in the atlas root, of O3 results computed before any atlas of the model."""
    return f"{model_slug}__o3.json"
