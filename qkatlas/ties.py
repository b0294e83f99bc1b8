"""Whether the last places of a top-K are a tie at the precision its scores were computed in
(docs/method.md#ties-at-the-cut-off).

Every score carries the rounding of the precision that computed it. Two scores ``a ≥ b`` of one column
*tie* when ``a − b ≤ ε·(|a| + |b|)``: each of them may be off by ``ε`` times its own size, so their
order is not meaningful. ``ε``, the precision's relative rounding of a score, is

* measured for ``bf16`` and ``tf32``: the job scores its calibration sample (the first
  ``CALIBRATION_IMAGES`` images) once more in float32 at full precision, and ``ε`` is the
  ``ROUNDING_QUANTILE`` quantile of ``|score − float32 score| / |float32 score|`` over the scores
  like those at a cut-off: in every column, the sample's top ``TOP_SHARE`` by float32 score;
* analytic for ``fp32``, which has no finer reference in the job: ``2·d·u`` with ``u = 2⁻²⁴`` and ``d``
  the model width. Each map value is a length-``d`` dot product accumulated in float32, whose error
  is at most about ``d·u`` times the sum of its terms' sizes; a score multiplies two of them, so the
  relative errors add.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from qkatlas.device import UNIT_ROUNDOFF, Precision

#: The quantile of the calibration sample's rounding errors that ``ε`` is: the tie check should cover
#: nearly every score's rounding, not the typical one.
ROUNDING_QUANTILE = 0.99
#: The share of the sample, per column, whose scores ``ε`` is measured on: its best, which resemble the
#: scores at a top-K's cut-off (rounding is relative to a score's size, and the rule applies it so).
TOP_SHARE = 0.1

TIE_RULE = (
    "two scores a ≥ b of a mode tie when a − b ≤ ε·(|a| + |b|), ε being the relative rounding of a score at the "
    "atlas's precision; the last places of a top-K tie when the K-th score and the best score left out do"
)


#: What a reader says about an atlas without the tie check.
TIES_NOT_RECORDED = (
    "this atlas was built before the tie check (atlas format 5 or older): whether its last places tie at its "
    "precision is not recorded; rebuild it to add it"
)


@dataclass(frozen=True)
class TiedPlaces:
    """A top-K's last places that tie with the best image left out: from place ``first`` (0-based) to the
    K-th; ``next_score`` is that image's score."""

    first: int
    next_score: float


@dataclass(frozen=True)
class Rounding:
    """The relative rounding ``epsilon`` of a score at ``precision``: ``measured`` on ``sample_images``
    images against float32, or the analytic bound (``sample_images`` 0)."""

    precision: Precision
    epsilon: float
    how: Literal["measured", "analytic"]
    sample_images: int


def analytic_rounding(d_model: int) -> Rounding:
    """fp32's bound: ``2·d·u`` (module docstring)."""
    return Rounding("fp32", 2.0 * d_model * UNIT_ROUNDOFF["fp32"], "analytic", 0)


def measured_rounding(precision: Precision, scores: torch.Tensor, reference: torch.Tensor) -> Rounding:
    """``ε`` of ``precision`` from the sample's scores ``[N, C]`` and the same images' full-precision
    float32 ``reference [N, C]`` (module docstring): over each column's top ``TOP_SHARE`` of the sample
    by reference score, the ``ROUNDING_QUANTILE`` quantile of ``|score − reference| / |reference|``.
    Entries whose reference is 0 or not finite (inactive modes) are left out."""
    n_images = len(scores)
    if n_images == 0:
        return Rounding(precision, 0.0, "measured", 0)
    reference = torch.nan_to_num(reference.double(), nan=0.0, posinf=0.0, neginf=0.0)
    top = reference.topk(max(1, int(np.ceil(TOP_SHARE * n_images))), dim=0).indices  # [n_top, C]
    exact, rounded = reference.gather(0, top), scores.double().gather(0, top)
    kept = (exact != 0) & torch.isfinite(rounded)
    errors = ((rounded - exact).abs() / exact.abs())[kept]
    if errors.numel() == 0:
        return Rounding(precision, 0.0, "measured", n_images)
    position = max(1, int(np.ceil(ROUNDING_QUANTILE * errors.numel())))
    epsilon = float(errors.kthvalue(position).values)  # kthvalue: any size (quantile has a limit)
    return Rounding(precision, epsilon, "measured", n_images)


def first_tied_place(scores: np.ndarray, runner_up: float, epsilon: float) -> int | None:
    """``scores [K]``: a column's top-K scores, best first (only its filled places). The first place
    (0-based) from which every place ties with the runner-up, i.e. whose order against the best image
    left out is not meaningful; ``None`` when even the K-th place does not tie (or nothing was left out)."""
    if not np.isfinite(runner_up) or len(scores) == 0:
        return None
    values = np.asarray(scores, dtype=np.float64)
    ties = values - runner_up <= epsilon * (np.abs(values) + abs(runner_up))
    if not ties[-1]:
        return None
    # Scores are sorted, so the tied places are the last ones: the first of them follows the last untied.
    untied = np.flatnonzero(~ties)
    return int(untied[-1] + 1) if untied.size else 0
