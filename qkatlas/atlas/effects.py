"""Reading an atlas's attention moved by each mode (``effects/``, format 5). ``Atlas.effects`` gives one;
atlases built without ``--effects`` (or before format 5) have none. Definition:
docs/method.md#attention-moved-by-a-mode."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from qkatlas.atlas.contract import EffectsInfo

#: What the service says about an atlas whose effects were not measured.
EFFECTS_NOT_COMPUTED = (
    "the attention moved by each mode was not measured for this atlas (built without --effects, or before atlas "
    "format 5): rebuild it with --effects to measure it"
)


@dataclass(frozen=True)
class EffectImage:
    """One of a mode's images with the largest effect: its dataset index and effect."""

    index: int
    effect: float


@dataclass(frozen=True)
class ModeEffect:
    """A mode's effect over every scored image: ``counts [n_bins + 2]`` are the underflow count, the bins
    between ``edges [n_bins + 1]`` and the overflow count (``minimum``/``maximum`` bound the two open-ended
    ones); ``top``: the images with the largest effect, largest first (ties by lower index), only those
    on which the mode moves some attention (effect > 0)."""

    count: int
    mean: float
    std: float
    minimum: float
    maximum: float
    edges: np.ndarray
    counts: np.ndarray
    top: tuple[EffectImage, ...]


class ModeEffects:
    """The ``effects/`` arrays of one atlas, memory-mapped; one entry per (layer, head, mode)."""

    def __init__(self, info: EffectsInfo, arrays: Mapping[str, np.ndarray]) -> None:
        self.info = info
        self._arrays = arrays

    def means(self) -> np.ndarray:
        """``[L, H, M]`` float64: every mode's mean effect (0 where no image was scored)."""
        return np.asarray(self._arrays["effects_mean"])

    def mode(self, layer: int, head: int, mode: int) -> ModeEffect:
        """One mode's effect over the dataset."""
        at = (layer, head, mode)
        arrays = self._arrays
        low, width = float(arrays["effects_bin_low"][at]), float(arrays["effects_bin_width"][at])
        counts = np.asarray(arrays["effects_histogram"][at])
        indices = np.asarray(arrays["effects_top_indices"][at])
        values = np.asarray(arrays["effects_top_values"][at])
        return ModeEffect(
            count=int(arrays["effects_count"][at]),
            mean=float(arrays["effects_mean"][at]),
            std=float(arrays["effects_std"][at]),
            minimum=float(arrays["effects_min"][at]),
            maximum=float(arrays["effects_max"][at]),
            edges=low + width * np.arange(len(counts) - 1),
            counts=counts,
            top=tuple(
                EffectImage(int(index), float(value))
                for index, value in zip(indices, values, strict=True)
                if index >= 0 and value > 0
            ),
        )
