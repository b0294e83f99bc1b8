"""An RGB photo → the uint8 crop a model sees, by the model's own resize and centre crop."""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as tvf

from qkatlas.images.decoding import to_rgb
from qkatlas.images.preprocessing import Preprocessing

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
    resized = tvf.resize(
        image, _resize_size(prep), interpolation=INTERPOLATION_MODES[prep.interpolation], antialias=True
    )
    tensor: torch.Tensor = tvf.pil_to_tensor(tvf.center_crop(resized, [prep.crop, prep.crop]))
    return tensor.contiguous()


def tensor_to_model_input(image: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """``to_model_input`` of a decoded uint8 ``[3, H, W]`` RGB tensor, on the tensor's device.

    The same geometry (sizes, crop box, interpolation, antialiasing) computed by torchvision's tensor
    kernels instead of Pillow's: the pixels differ from ``to_model_input``'s by rounding (docs/
    benchmarks.md, "How GPU-decoded pixels differ from Pillow's"). Returns uint8 ``[3, crop, crop]``.
    """
    resized = tvf.resize(
        image, _resize_size(prep), interpolation=INTERPOLATION_MODES[prep.interpolation], antialias=True
    )
    cropped: torch.Tensor = tvf.center_crop(resized, [prep.crop, prep.crop])
    return cropped.contiguous()


def _resize_size(prep: Preprocessing) -> list[int]:
    """torchvision's ``size`` argument: one number resizes the shorter side, two give both sides."""
    if prep.resize_mode == "shortest":
        return [prep.resize]
    if prep.resize_mode == "exact":
        return [prep.resize, prep.resize]
    raise ValueError(f"unknown resize_mode {prep.resize_mode!r}")
