"""Configs of the Hugging Face checkpoints we analyse, written out so that ``random_init`` builds
them offline (the paper's 13 models, ``PAPER_MODELS``, plus DINOv2 with and without registers).

``KNOWN_HF_MODELS[id] = (model_type, config attributes)``; the attributes are those of the hub's
``config.json`` (the vision config for CLIP) that shape the architecture. Preprocessing for these ids
comes from each family's default processor (``hf_vit``, ``hf_clip``, ``hf_dinov2``), which mirrors
the hub's ``preprocessor_config.json`` of that family: google/vit-* and facebook/dino-* resize
straight to the model size with mean/std 0.5; facebook/deit-* resize to 256 × 256 and crop 224,
ImageNet stats; openai/clip-* shortest edge + crop, CLIP stats; facebook/dinov2-* shortest edge 256
and crop 224, ImageNet stats.
"""

from __future__ import annotations

from typing import Any


def _vit(hidden: int, layers: int, heads: int, patch: int, image: int) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": 4 * hidden,
        "patch_size": patch,
        "image_size": image,
        "qkv_bias": True,
    }


def _clip(hidden: int, layers: int, heads: int, patch: int) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": 4 * hidden,
        "patch_size": patch,
        "image_size": 224,
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
    }


def _dinov2(hidden: int, layers: int, heads: int, **extra: Any) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "mlp_ratio": 4,
        "patch_size": 14,
        "image_size": 518,
        "layerscale_value": 1.0,
        "layer_norm_eps": 1e-6,
        **extra,
    }


KNOWN_HF_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "google/vit-base-patch16-224": ("vit", _vit(768, 12, 12, 16, 224)),
    "google/vit-base-patch32-384": ("vit", _vit(768, 12, 12, 32, 384)),
    "google/vit-large-patch16-224": ("vit", _vit(1024, 24, 16, 16, 224)),
    "google/vit-large-patch32-384": ("vit", _vit(1024, 24, 16, 32, 384)),
    "google/vit-huge-patch14-224-in21k": ("vit", _vit(1280, 32, 16, 14, 224)),  # d_head 80
    "facebook/dino-vits16": ("vit", _vit(384, 12, 6, 16, 224)),
    "facebook/dino-vitb16": ("vit", _vit(768, 12, 12, 16, 224)),
    "openai/clip-vit-base-patch16": ("clip_vision_model", _clip(768, 12, 12, 16)),
    "openai/clip-vit-base-patch32": ("clip_vision_model", _clip(768, 12, 12, 32)),
    "openai/clip-vit-large-patch14": ("clip_vision_model", _clip(1024, 24, 16, 14)),
    "facebook/deit-tiny-distilled-patch16-224": ("deit", _vit(192, 12, 3, 16, 224)),
    "facebook/deit-small-distilled-patch16-224": ("deit", _vit(384, 12, 6, 16, 224)),
    "facebook/deit-base-distilled-patch16-224": ("deit", _vit(768, 12, 12, 16, 224)),
    "facebook/dinov2-small": ("dinov2", _dinov2(384, 12, 6)),
    "facebook/dinov2-base": ("dinov2", _dinov2(768, 12, 12)),
    "facebook/dinov2-large": ("dinov2", _dinov2(1024, 24, 16)),
    "facebook/dinov2-with-registers-small": (
        "dinov2_with_registers",
        _dinov2(384, 12, 6, num_register_tokens=4),
    ),
    "facebook/dinov2-with-registers-base": (
        "dinov2_with_registers",
        _dinov2(768, 12, 12, num_register_tokens=4),
    ),
    "facebook/dinov2-with-registers-large": (
        "dinov2_with_registers",
        _dinov2(1024, 24, 16, num_register_tokens=4),
    ),
}

#: The paper's 13 models (docs/method.md#models), as Hugging Face ids.
PAPER_MODELS: tuple[str, ...] = (
    "google/vit-base-patch16-224",
    "google/vit-base-patch32-384",
    "google/vit-large-patch16-224",
    "google/vit-large-patch32-384",
    "google/vit-huge-patch14-224-in21k",
    "facebook/dino-vits16",
    "facebook/dino-vitb16",
    "openai/clip-vit-base-patch16",
    "openai/clip-vit-base-patch32",
    "openai/clip-vit-large-patch14",
    "facebook/deit-tiny-distilled-patch16-224",
    "facebook/deit-small-distilled-patch16-224",
    "facebook/deit-base-distilled-patch16-224",
)

#: DINOv2 with and without registers (not in the paper; often compared with it).
DINOV2_MODELS: tuple[str, ...] = (
    "facebook/dinov2-small",
    "facebook/dinov2-base",
    "facebook/dinov2-large",
    "facebook/dinov2-with-registers-small",
    "facebook/dinov2-with-registers-base",
    "facebook/dinov2-with-registers-large",
)

#: Named model lists for ``python -m precompute --models NAME``.
MODEL_PRESETS: dict[str, tuple[str, ...]] = {
    "paper": PAPER_MODELS,
    "paper+dinov2": PAPER_MODELS + DINOV2_MODELS,
    "dinov2": DINOV2_MODELS,
}
