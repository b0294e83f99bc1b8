"""How a model turns a photo into its input: resize, centre crop and normalization, read from the model's config.

An image concept, kept below the model adapters (which read it from their configs) and the atlas format
(which stores it), so that decoding and cropping need nothing from either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ResizeMode = Literal["shortest", "exact"]
Interpolation = Literal["bilinear", "bicubic", "nearest"]


@dataclass(frozen=True)
class Preprocessing:
    """How the model turns a photo into its input, read from the model's own config.

    ``resize_mode="shortest"`` scales the shorter side to ``resize`` (keeping aspect), then
    centre-crops ``crop × crop``; ``"exact"`` resizes to ``resize × resize`` ignoring aspect, then
    centre-crops ``crop × crop`` — straight to ``crop × crop`` when ``resize == crop`` (HF ViT
    processors; HF DeiT and timm ``crop_mode="squash"`` use ``resize > crop``).
    """

    crop: int
    resize: int
    resize_mode: ResizeMode
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: Interpolation = "bicubic"

    def describe(self) -> str:
        """What happens to a photo before the model sees it, as one phrase for a reader (no normalization:
        that changes no pixel a person sees)."""
        crop = f"{self.crop} × {self.crop}"
        if self.resize_mode == "shortest":
            first = f"resized so its shorter side is {self.resize} px ({self.interpolation})"
        else:
            first = f"squashed to {self.resize} × {self.resize} px ({self.interpolation}; the aspect ratio is not kept)"
        if self.resize_mode == "exact" and self.resize == self.crop:
            return first
        if self.resize < self.crop:
            return f"{first}, then padded with black to {crop} px around the centre"
        return f"{first}, then the centre {crop} px cropped"
