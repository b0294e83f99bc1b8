"""Natural photos that need no download: scikit-image's bundled images (CC0 / public domain).

Used by the tests and by the offline demo of ``./qk up``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE_PHOTOS = (
    "astronaut",
    "camera",
    "cat",
    "chelsea",
    "coffee",
    "coins",
    "colorwheel",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "retina",
    "rocket",
    "brick",
    "grass",
)


def write_sample_photos(directory: Path, names: tuple[str, ...] = SAMPLE_PHOTOS) -> list[Path]:
    """Write the named photos as JPEG (PNG when they have alpha) into ``directory``."""
    import skimage.data

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        array = np.asarray(getattr(skimage.data, name)())
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        image = Image.fromarray(array)
        path = directory / (f"{name}.png" if image.mode == "RGBA" else f"{name}.jpg")
        image.save(path)
        paths.append(path)
    return paths
