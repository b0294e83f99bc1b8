"""Hugging Face DINOv2 (``Dinov2Model``: facebook/dinov2-*) and DINOv2 with registers
(``Dinov2WithRegistersModel``: facebook/dinov2-with-registers-*; prefix = CLS + registers).

Blocks: ``encoder.layer.N`` with ``attention.q_proj`` / ``attention.k_proj`` fed by ``norm1``
(layer scale after the attention does not touch the logits). The hub configs say
``image_size=518`` but the processors crop 224 px and the model interpolates its position
embeddings, so the model runs at the processor's crop size (``runs_at_crop``).
"""

from __future__ import annotations

from typing import Any

from transformers import Dinov2Model, Dinov2WithRegistersModel, PretrainedConfig

from .hf_common import IMAGENET_MEAN, IMAGENET_STD, HFFamily


def _dinov2_processor(_config: PretrainedConfig) -> dict[str, Any]:
    """``BitImageProcessor`` of the facebook/dinov2-* checkpoints: shortest edge 256, centre crop
    224, bicubic, ImageNet mean/std."""
    return {
        "size": {"shortest_edge": 256},
        "crop_size": {"height": 224, "width": 224},
        "do_center_crop": True,
        "resample": 3,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
    }


DINOV2_FAMILY = HFFamily(
    name="hf-dinov2",
    model_types=("dinov2",),
    model_class=Dinov2Model,
    default_processor=_dinov2_processor,
    runs_at_crop=True,
    int_size_mode="shortest",
)
DINOV2_REGISTERS_FAMILY = HFFamily(
    name="hf-dinov2-registers",
    model_types=("dinov2_with_registers",),
    model_class=Dinov2WithRegistersModel,
    default_processor=_dinov2_processor,
    runs_at_crop=True,
    int_size_mode="shortest",
)
