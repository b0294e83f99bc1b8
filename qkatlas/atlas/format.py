"""File names and array layouts of an atlas directory (documented in docs/atlas-format.md)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

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


def expected_shapes(manifest: AtlasManifest) -> dict[str, tuple[int, ...]]:
    """The shape of every array of an atlas, derived from its manifest."""
    model = manifest.model
    n_layers, n_heads, n_modes = model.n_layers, model.n_heads, model.d_head
    d_model, grid = model.d_model, model.grid
    n_bases, k = len(manifest.bases), manifest.top_k
    head_modes = (n_layers, n_heads, n_modes)
    ranked = (n_bases, *head_modes, 2, k)
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


def slugify(text: str) -> str:
    """Lowercase URL-safe slug: ``[a-z0-9._-]``, other runs become ``-``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return slug or "unnamed"


def atlas_slug(model_slug: str, dataset_name: str) -> str:
    return f"{model_slug}__{slugify(dataset_name)}"


def thumbnail_name(index: int) -> str:
    return f"{THUMBS_DIR}/{index:08d}.jpg"


#: Odd-One-Out results (``qkatlas.o3``) stored inside an atlas directory.
O3 = "o3.json"


def o3_sidecar_name(model_slug: str) -> str:
    """File name, directly in the atlas root, of O3 results computed before any atlas of the model."""
    return f"{model_slug}__o3.json"
