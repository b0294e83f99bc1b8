"""Hugging Face ViT (``ViTModel``: google/vit-*, facebook/dino-*) and DeiT (``DeiTModel``:
facebook/deit-*-distilled-*, CLS + distillation token).

Blocks: ``layers.N`` with ``attention.q_proj`` / ``attention.k_proj`` (separate, biased) fed by
``layernorm_before``. Both run at ``config.image_size``. Checkpoints of the classification heads
(``ViTForImageClassification``, ``DeiTForImageClassificationWithTeacher``) load into the bare
encoder; the head is not needed.
"""

from __future__ import annotations

from typing import Any

from transformers import DeiTModel, PretrainedConfig, ViTModel

from .hf_common import HALF, IMAGENET_MEAN, IMAGENET_STD, HFFamily


def _vit_processor(config: PretrainedConfig) -> dict[str, Any]:
    """``ViTImageProcessor`` defaults: resize straight to the model size, bilinear, mean/std 0.5."""
    size = int(config.image_size)
    return {"size": {"height": size, "width": size}, "resample": 2, "image_mean": HALF, "image_std": HALF}


def _deit_processor(config: PretrainedConfig) -> dict[str, Any]:
    """``DeiTImageProcessor`` of the facebook/deit-* checkpoints: 256 × 256 (ignoring aspect, i.e.
    ``crop / 0.875``), centre crop, bicubic, ImageNet mean/std."""
    size = int(config.image_size)
    return {
        "size": {"height": size * 8 // 7, "width": size * 8 // 7},
        "crop_size": {"height": size, "width": size},
        "do_center_crop": True,
        "resample": 3,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
    }


VIT_FAMILY = HFFamily(
    name="hf-vit",
    model_types=("vit",),
    model_class=ViTModel,
    default_processor=_vit_processor,
)
DEIT_FAMILY = HFFamily(
    name="hf-deit",
    model_types=("deit",),
    model_class=DeiTModel,
    default_processor=_deit_processor,
)
