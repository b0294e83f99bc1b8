"""Which of a signed mode's top-K winners are evidence that an image excites it, and which of those
fire. The paper's ranking rule fills every top-K slot, also for a mode that no image excites (its
winners then score 0 and are ordered by the tie rule) and with winners whose positive score is the
product of two negative maxima (the quirk). This is the one implementation of the rule that tells
them apart; docs/method.md#evidence-and-firing defines it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qkatlas.mode_statistics import NOISE_FLOOR

EVIDENCE_RULE = (
    "a top image is evidence for a signed mode when its score is above the noise floor of its basis and layer, "
    f"{NOISE_FLOOR:g} × the largest score magnitude among all stored top-K scores of that basis and layer "
    "(so above 0); the others are left out. It fires when its query map and its key map both peak above 0 "
    "(for neg: the negated maps); an evidence image that does not fire owes its score to the product of two "
    "negative maxima"
)


@dataclass(frozen=True)
class Winner:
    """A top-K slot that is evidence: ``rank`` is its slot (0 = best), ``fires`` whether both of its
    stored maps peak above 0."""

    rank: int
    dataset_index: int
    score: float
    fires: bool


@dataclass(frozen=True)
class ModeEvidence:
    """A signed mode's evidence winners, best first, and how many filled slots were left out. The
    winners are always the first slots (scores are sorted and the floor is a threshold), so a rank
    means the same slot in the evidence as in the atlas."""

    winners: tuple[Winner, ...]
    left_out: int


def noise_floor(layer_top_scores: np.ndarray) -> float:
    """The score a winner must exceed, from every stored top-K score of one (basis, layer), any shape:
    ``NOISE_FLOOR ×`` their largest magnitude (0 for a layer without finite scores, so that a winner
    still needs a score above 0)."""
    magnitude = np.abs(np.asarray(layer_top_scores, dtype=np.float64))
    finite = magnitude[np.isfinite(magnitude)]
    return NOISE_FLOOR * float(finite.max()) if finite.size else 0.0


def is_evidence(scores: np.ndarray, floor: float | np.ndarray) -> np.ndarray:
    """``scores [...]`` → bool: the scores above ``floor`` (a number, or one that broadcasts against
    ``scores``) and above 0; NaN is never evidence."""
    values = np.asarray(scores, dtype=np.float64)
    return (values > floor) & (values > 0)


def fires(query_map: np.ndarray, key_map: np.ndarray) -> bool:
    """Whether a signed mode fires on an image: its (signed) query map and key map both peak above 0."""
    return bool(np.max(query_map) > 0 and np.max(key_map) > 0)
