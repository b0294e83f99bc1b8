"""The cosine summaries of a decomposition, as ``summary.json`` stores them
(docs/method.md#cosine-and-layer-summaries).

Computed here rather than in the atlas contract, which only describes files.
"""

from __future__ import annotations

import numpy as np

from qkatlas.atlas.contract import AtlasSummary
from qkatlas.svd import Decomposition, weighted_cos


def summarize_decomposition(dec: Decomposition) -> AtlasSummary:
    """Per-layer and per-head cosine summaries over the active modes of ``dec`` (docs/method.md#inactive-modes)."""
    n_layers, _, n_modes, d_model = dec.shape
    active = dec.active  # [L, H, M]
    head_active = np.asarray(active.any(axis=-1))  # [L, H]
    head_weighted = weighted_cos(dec)  # NaN where the head is inactive
    layer_weighted = _masked_mean(head_weighted, head_active, axis=1)
    return AtlasSummary(
        normalized_depth=[layer / max(n_layers - 1, 1) for layer in range(n_layers)],
        layer_weighted_cos=layer_weighted,
        layer_unweighted_cos=_masked_mean(dec.cos, active, axis=(1, 2)),
        # The paper's released code also divides by d_h; offered only as a labelled variant.
        layer_weighted_cos_scaled=[None if value is None else value / n_modes for value in layer_weighted],
        head_weighted_cos=[
            [float(value) if is_active else None for value, is_active in zip(row, row_active, strict=True)]
            for row, row_active in zip(head_weighted, head_active, strict=True)
        ],
        baseline_95=1.96 / float(np.sqrt(d_model)),
    )


def _masked_mean(values: np.ndarray, mask: np.ndarray, axis: int | tuple[int, ...]) -> list[float | None]:
    """Per layer (axis 0), the mean of ``values`` where ``mask``; None where the mask selects nothing."""
    count = mask.sum(axis=axis)
    total = np.where(mask, values, 0.0).sum(axis=axis)
    return [float(t / c) if c else None for t, c in zip(total, count, strict=True)]
