"""One tiny random-init build of every supported model family (timm and Hugging Face ViT, DeiT-distilled,
CLIP, DINO, DINOv2 with registers), shared by the tests that must hold for each of them."""

from __future__ import annotations

from typing import Any

TINY = {"depth": 2, "embed_dim": 48, "num_heads": 3}
HF_TINY = {"num_hidden_layers": 2, "hidden_size": 48, "num_attention_heads": 3, "intermediate_size": 96}

#: family → (model id, config overrides) for ``load_model(..., random_init=True, overrides=...)``.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "timm-vit": ("vit_tiny_patch16_224", {**TINY, "img_size": 64}),
    "timm-deit-distilled": ("deit_tiny_distilled_patch16_224", {**TINY, "img_size": 64}),
    "timm-clip": ("vit_base_patch16_clip_224.openai", {**TINY, "img_size": 64}),
    "timm-dinov2-reg": ("vit_small_patch14_reg4_dinov2", {**TINY, "img_size": 56}),
    "hf-vit": ("google/vit-base-patch16-224", {**HF_TINY, "image_size": 64}),
    "hf-dino": ("facebook/dino-vits16", {**HF_TINY, "image_size": 64}),
    "hf-deit-distilled": ("facebook/deit-tiny-distilled-patch16-224", {**HF_TINY, "image_size": 64}),
    "hf-clip": ("openai/clip-vit-base-patch16", {**HF_TINY, "image_size": 64}),
    "hf-dinov2-registers": ("facebook/dinov2-with-registers-small", {**HF_TINY, "image_size": 56}),
}
