"""The sentence that tells a user what happened to their photo, for every resize mode / crop combination."""

from __future__ import annotations

import pytest

from qkatlas.images.preprocessing import Interpolation, Preprocessing, ResizeMode

MEAN_STD = (0.5, 0.5, 0.5)


@pytest.mark.parametrize(
    ("resize_mode", "resize", "crop", "interpolation", "expected"),
    [
        (
            "shortest",
            256,
            224,
            "bicubic",
            "resized so its shorter side is 256 px (bicubic), then the centre 224 × 224 px cropped",
        ),
        (
            "shortest",
            224,
            224,
            "bilinear",
            "resized so its shorter side is 224 px (bilinear), then the centre 224 × 224 px cropped",
        ),
        ("exact", 64, 64, "bilinear", "squashed to 64 × 64 px (bilinear; the aspect ratio is not kept)"),
        (
            "exact",
            248,
            224,
            "bicubic",
            "squashed to 248 × 248 px (bicubic; the aspect ratio is not kept), then the centre 224 × 224 px cropped",
        ),
        (
            "exact",
            200,
            224,
            "nearest",
            "squashed to 200 × 200 px (nearest; the aspect ratio is not kept), then padded with black to "
            "224 × 224 px around the centre",
        ),
        (
            "shortest",
            200,
            224,
            "bicubic",
            "resized so its shorter side is 200 px (bicubic), then padded with black to 224 × 224 px around the centre",
        ),
    ],
)
def test_the_description_names_the_resize_the_crop_and_the_interpolation(
    resize_mode: ResizeMode, resize: int, crop: int, interpolation: Interpolation, expected: str
) -> None:
    prep = Preprocessing(
        crop=crop,
        resize=resize,
        resize_mode=resize_mode,
        mean=MEAN_STD,
        std=MEAN_STD,
        interpolation=interpolation,
    )
    assert prep.describe() == expected
