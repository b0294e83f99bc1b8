"""Photos that need no download, and where optional sample data is looked for.

scikit-image's bundled images (CC0 / public domain) are always there: the tests and the offline demo
of ``./qk up`` use them. Larger sample sets (ImageNet photos for benchmarks and demos, real
Odd-One-Out examples for tests) are not part of the project and may not be redistributed with it;
when a machine has them, they sit in ``$QKATLAS_SAMPLE_DATA``, by default the ``shared/data`` folder
of the workspace that holds the checkout. Everything works without them.
"""

from __future__ import annotations

import os
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


def optional_sample_dir(name: str) -> Path:
    """Where the optional sample set ``name`` (``imagenet-samples``, ``o3-example``) would be."""
    root = os.environ.get("QKATLAS_SAMPLE_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "shared" / "data"
    return base / name


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
