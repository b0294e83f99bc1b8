"""Where a score falls among a signed mode's scores on the dataset, from what the atlas stores: the
histogram (exact integer counts in bins that a score is assigned to by a monotonic rule), the exact
extremes and the exact top-K scores. docs/method.md#standing-in-the-distribution defines the rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qkatlas.atlas.statistics import ModeDistribution
from qkatlas.mode_statistics import bin_position, float32_bin_terms

STANDING_RULE = (
    "images scoring strictly below the score, among the dataset's scored images: the counts of every histogram "
    "slot below the score's slot are below it and those above are not (a score's slot is computed in float32 as "
    "the job computed it, and never decreases with the score); of the images in the score's own slot, the stored "
    "top-K scores and the extremes decide what they can (no image is below a score at or under the minimum; every "
    "image not in the top-K scores at most the last top-K score, so a score above it has an exact count); the rest "
    "is a range. Percentile = 100 · below / scored images. The rank in the top-K is the number of stored top-K "
    "scores at or above the score (a tie ranks after the dataset's image); it enters when that rank is below K"
)


@dataclass(frozen=True)
class Standing:
    """A score among the ``count`` scored images of a signed mode: between ``below_at_least`` and
    ``below_at_most`` of them score strictly below it (equal when the stored data decide it);
    ``top_k_rank``: its 0-based rank among the stored top-K, ``None`` when it would not enter (``top_k`` slots)."""

    score: float
    count: int
    below_at_least: int
    below_at_most: int
    top_k_rank: int | None
    top_k: int

    @property
    def exact(self) -> bool:
        return self.below_at_least == self.below_at_most

    @property
    def percentile_range(self) -> tuple[float, float]:
        """``100 · below / count`` for both ends of the range."""
        return 100.0 * self.below_at_least / self.count, 100.0 * self.below_at_most / self.count


def histogram_slot(score: float, distribution: ModeDistribution) -> int:
    """The slot of ``distribution.counts`` (0 underflow, 1 … n_bins, n_bins + 1 overflow) the job would have
    counted the float32 ``score`` in."""
    inverse_width, low_in_widths = float32_bin_terms(
        torch.tensor(distribution.low, dtype=torch.float64), torch.tensor(distribution.width, dtype=torch.float64)
    )
    position = bin_position(torch.tensor([score], dtype=torch.float32), inverse_width, low_in_widths)
    return int(position.item()) + 1


def standing(score: float, distribution: ModeDistribution, top_scores: np.ndarray, top_k: int) -> Standing:
    """Where the finite ``score`` (rounded to float32, the scores' precision) falls among the
    ``distribution.count`` scored images of a signed mode whose stored top-K (``top_k`` slots) holds
    ``top_scores`` (its filled slots, best first)."""
    if not np.isfinite(score):
        raise ValueError(f"a score's standing needs a finite score, not {score}")
    if distribution.count <= 0:
        raise ValueError("the distribution has no scored image")
    value = float(np.float32(score))
    count = distribution.count
    counts = np.asarray(distribution.counts, dtype=np.int64)
    slot = histogram_slot(value, distribution)
    at_least = int(counts[:slot].sum())
    at_most = at_least + int(counts[slot])
    # The top-K holds the best finite scores exactly; every other image scores at most its last one.
    top = np.asarray(top_scores, dtype=np.float32)
    top = top[np.isfinite(top)]
    at_or_above = int((top >= value).sum())
    at_most = min(at_most, count - at_or_above)
    if len(top) >= count or (len(top) > 0 and value > top[-1]):
        at_least = at_most = count - at_or_above
    if value <= distribution.minimum:
        at_least = at_most = 0
    elif value > distribution.maximum:
        at_least = at_most = count
    else:
        at_least = max(at_least, 1)  # the minimum is below it
    return Standing(
        score=value,
        count=count,
        below_at_least=at_least,
        below_at_most=at_most,
        top_k_rank=at_or_above if at_or_above < top_k else None,
        top_k=top_k,
    )
