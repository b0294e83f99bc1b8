"""Where an overlay PNG draws more than its maps: the outlines of the score's two patches."""

from __future__ import annotations

import numpy as np

from qkatlas.render import patch_bounds

#: How far the outlines reach beyond a peak's patch, in pixels (the key peak's dashed ring, docs/method.md#rendering).
OUTLINE_REACH = 5


def outlined_pixels(query: np.ndarray, key: np.ndarray, size: int) -> np.ndarray:
    """``[size, size]`` bool: the pixels the outlines of the two maps' peaks (found here by argmax) may cover."""
    grid = query.shape[0]
    mask = np.zeros((size, size), bool)
    for peak in (query, key):
        row, col = divmod(int(np.argmax(peak)), grid)
        (y0, y1), (x0, x1) = patch_bounds(row, grid, size), patch_bounds(col, grid, size)
        mask[max(y0 - OUTLINE_REACH, 0) : y1 + OUTLINE_REACH, max(x0 - OUTLINE_REACH, 0) : x1 + OUTLINE_REACH] = True
    return mask
