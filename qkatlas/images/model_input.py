"""An RGB photo → the uint8 crop a model sees, by the model's own resize and centre crop."""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as tvf

from qkatlas.images.decoding import to_rgb
from qkatlas.models.base import Preprocessing

#: Pillow/torchvision resampling of each ``Preprocessing.interpolation``.
INTERPOLATION_MODES = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


def to_model_input(image: Image.Image, prep: Preprocessing) -> torch.Tensor:
    """The image as the model sees it: uint8 ``[3, prep.crop, prep.crop]`` (not normalized).

    ``resize_mode="shortest"``: the shorter side is resized to ``prep.resize`` (aspect kept; the long
    side truncated like torchvision/timm do), then a centre ``crop × crop`` is cut. ``"exact"``: resized
    to ``resize × resize`` ignoring aspect (Hugging Face processors, timm's "squash"), then centre-cropped
    to ``crop × crop`` (a no-op when ``resize == crop``). Both use ``prep.interpolation`` with
    Pillow's antialiased resampling, so the result matches the timm/transformers eval pipelines and is
    deterministic.
    """
    if image.mode != "RGB":
        image = to_rgb(image)
    interpolation = INTERPOLATION_MODES[prep.interpolation]
    if prep.resize_mode == "shortest":
        size = [prep.resize]
    elif prep.resize_mode == "exact":
        size = [prep.resize, prep.resize]
    else:
        raise ValueError(f"unknown resize_mode {prep.resize_mode!r}")
    resized = tvf.resize(image, size, interpolation=interpolation, antialias=True)
    tensor: torch.Tensor = tvf.pil_to_tensor(tvf.center_crop(resized, [prep.crop, prep.crop]))
    return tensor.contiguous()
