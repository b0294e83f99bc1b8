"""Synthetic Odd-One-Out images with exact masks, aligned to the planted model's patch grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

GREEN, RED, GREY = (30, 200, 30), (220, 30, 30), (128, 128, 128)
#: Synthetic images are twice the planted model's 64 px input; 16 px cells = its 8 × 8 patch grid.
SIDE, CELL = 128, 16


def write_synthetic_o3(root: Path, n: int, seed: int = 0) -> Path:
    """An O3 folder of ``n`` images: grey background, one green 2 × 2-cell target, three red 2 × 2-cell
    distractors, all aligned to the planted model's patches, with exact binary masks. The last image
    has an empty target mask (it must be skipped)."""
    rng = np.random.default_rng(seed)
    for folder in ("images", "targ_images", "dist_images"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index in range(n):
        cells = SIDE // CELL
        taken = np.zeros((cells, cells), dtype=bool)
        photo = np.full((SIDE, SIDE, 3), GREY, dtype=np.uint8)
        masks = {"targ_images": np.zeros((SIDE, SIDE), np.uint8), "dist_images": np.zeros((SIDE, SIDE), np.uint8)}
        for colour, folder in (
            (GREEN, "targ_images"),
            (RED, "dist_images"),
            (RED, "dist_images"),
            (RED, "dist_images"),
        ):
            while True:
                row, col = (int(v) for v in rng.integers(0, cells - 1, size=2))
                if not taken[max(row - 1, 0) : row + 3, max(col - 1, 0) : col + 3].any():
                    break
            taken[row : row + 2, col : col + 2] = True
            window = np.s_[row * CELL : (row + 2) * CELL, col * CELL : (col + 2) * CELL]
            photo[window] = colour
            if not (folder == "targ_images" and index == n - 1):
                masks[folder][window] = 255
        name = f"synthetic_{index:02d}.png"
        Image.fromarray(photo).save(root / "images" / name)
        for folder, mask in masks.items():
            Image.fromarray(mask).save(root / folder / name)
    return root
