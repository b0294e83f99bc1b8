"""Hugging Face CLIP vision tower (``CLIPVisionModel``: openai/clip-vit-*).

``pre_layrnorm`` is applied to the embeddings before the encoder, so the residual entering block 0
is *after* it (the block's forward pre-hook sees exactly that). Blocks: ``encoder.layers.N`` with
``self_attn.q_proj`` / ``self_attn.k_proj`` (separate, biased) fed by ``layer_norm1``. Full
``CLIPModel`` checkpoints (``model_type='clip'``) load their vision tower.
"""

from __future__ import annotations

from typing import Any

from transformers import CLIPVisionModel, PretrainedConfig

from .hf_common import HFFamily

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _clip_processor(config: PretrainedConfig) -> dict[str, Any]:
    """``CLIPImageProcessor``: shortest edge to the model size, centre crop, bicubic, CLIP stats."""
    size = int(config.image_size)
    return {
        "size": {"shortest_edge": size},
        "crop_size": {"height": size, "width": size},
        "do_center_crop": True,
        "resample": 3,
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
    }


CLIP_FAMILY = HFFamily(
    name="hf-clip",
    model_types=("clip", "clip_vision_model"),
    model_class=CLIPVisionModel,
    default_processor=_clip_processor,
    int_size_mode="shortest",
)
