"""What the Hugging Face families share: the adapter, found through the loaded module objects.

transformers 5 names a ViT block's projections ``layers.N.attention.q_proj`` in memory (checkpoints
on disk keep ``encoder.layer.N.attention.attention.query``; transformers renames them on load).
We never go by checkpoint keys: the blocks, the attention's query/key ``Linear`` layers and the
LayerNorm feeding them are found by attribute on the loaded model, trying the transformers 5 names
first and the transformers 4 ones after; a model where none fits is refused.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from qkatlas.images.preprocessing import Preprocessing, ResizeMode

from .base import (
    AttentionFn,
    LayerWeights,
    ModelOutputs,
    ModelSpec,
    PrefixKind,
    ProjectionOutput,
    UnsupportedModelError,
    ViTAdapter,
    this_thread_only,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


class TokenClassifier(nn.Module):
    """A checkpoint's classifier on the encoder's final token states ``[B, N, D]`` → logits ``[B, C]``:
    the mean of its linear heads, head ``i`` reading token ``tokens[i]`` (ViT: the CLS token; DeiT
    distilled: CLS and distillation tokens, averaged as the checkpoint's own inference does)."""

    def __init__(self, heads: list[nn.Module], tokens: list[int], class_names: tuple[str, ...]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.tokens = tokens
        self.class_names = class_names

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return torch.stack([head(states[:, t]) for head, t in zip(self.heads, self.tokens, strict=True)]).mean(0)


#: Where the transformer blocks live, per transformers layout (5.x first).
_BLOCK_PATHS = ("layers", "encoder.layer", "encoder.layers")
#: (attention module, query Linear, key Linear) attribute paths inside a block.
_QK_PATHS = (
    ("attention", "q_proj", "k_proj"),  # ViT, DeiT, DINOv2 (transformers 5)
    ("self_attn", "q_proj", "k_proj"),  # CLIP
    ("attention.attention", "query", "key"),  # ViT, DeiT, DINOv2 (transformers 4)
)
#: The LayerNorm that feeds the attention, per family.
_NORM_NAMES = ("layernorm_before", "norm1", "layer_norm1")
#: PIL resample codes used in processor configs.
_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def _get_path(root: nn.Module, path: str) -> Any:
    node: Any = root
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


@dataclass(frozen=True)
class HFFamily:
    """A Hugging Face model family: how to build it and the preprocessing its hub checkpoints use
    when a checkpoint carries no ``preprocessor_config.json``.

    ``model_types``: ``config.model_type`` values it covers. ``runs_at_crop``: the model
    interpolates its position embeddings and runs at the processor's crop size (DINOv2), instead of
    requiring ``config.image_size``. ``int_size_mode``: what a bare integer ``size`` in a legacy
    processor config means.
    """

    name: str
    model_types: tuple[str, ...]
    model_class: type[PreTrainedModel]
    default_processor: Callable[[PretrainedConfig], dict[str, Any]]
    runs_at_crop: bool = False
    int_size_mode: ResizeMode = "exact"

    def vision_config(self, config: PretrainedConfig) -> PretrainedConfig:
        """The vision tower's config (CLIP checkpoints nest it as ``vision_config``)."""
        return cast(PretrainedConfig, getattr(config, "vision_config", None) or config)


def _size(value: Any, key: str = "height") -> int:
    if isinstance(value, dict):
        if "height" in value and "width" in value and value["height"] != value["width"]:
            raise UnsupportedModelError(f"non-square processor size {value}")
        return int(value.get(key) or value.get("height") or value["shortest_edge"])
    return int(value)


def preprocessing_from_processor(processor: dict[str, Any], family: HFFamily) -> Preprocessing:
    """``Preprocessing`` from a Hugging Face image processor config (``preprocessor_config.json``).

    ``size`` ``{"height", "width"}`` → resize ignoring aspect (``"exact"``); ``{"shortest_edge"}`` →
    shortest side; a bare int → ``family.int_size_mode``. ``crop_size`` applies when
    ``do_center_crop``. ``resample`` is a PIL code (2 bilinear, 3 bicubic).
    """
    size = processor.get("size", 224)
    if isinstance(size, dict):
        resize_mode: ResizeMode = "shortest" if "shortest_edge" in size else "exact"
        resize = _size(size, "shortest_edge" if resize_mode == "shortest" else "height")
    else:
        resize_mode, resize = family.int_size_mode, int(size)
    do_center_crop = bool(processor.get("do_center_crop", False))
    crop = _size(processor.get("crop_size", resize)) if do_center_crop else resize
    if resize_mode == "shortest" and not do_center_crop:
        raise UnsupportedModelError("processor resizes the shortest edge without a centre crop")
    if processor.get("do_normalize", True):
        mean = tuple(float(m) for m in processor.get("image_mean", IMAGENET_MEAN))
        std = tuple(float(s) for s in processor.get("image_std", IMAGENET_STD))
    else:
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return Preprocessing(
        crop=crop,
        resize=resize,
        resize_mode=resize_mode,
        mean=cast(tuple[float, float, float], mean),
        std=cast(tuple[float, float, float], std),
        interpolation=cast(Any, _RESAMPLE.get(int(processor.get("resample", 3)), "bicubic")),
    )


def _prefix_kinds(embeddings: nn.Module) -> tuple[PrefixKind, ...]:
    """Prefix tokens in sequence order: CLS, then distillation (DeiT) or registers (DINOv2-reg)."""
    kinds: list[PrefixKind] = []
    if getattr(embeddings, "cls_token", None) is not None or hasattr(embeddings, "class_embedding"):
        kinds.append("cls")
    if getattr(embeddings, "distillation_token", None) is not None:
        kinds.append("distillation")
    registers = getattr(embeddings, "register_tokens", None)
    if registers is not None:
        kinds.extend(["register"] * registers.shape[1])
    return tuple(kinds)


class HFAdapter(ViTAdapter):
    """A transformers vision encoder (ViT, DeiT, CLIP vision, DINOv2 ± registers) behind
    ``ViTAdapter``. Loaded with SDPA attention; ``attention_probs`` switches to eager for the call."""

    def __init__(
        self,
        model: PreTrainedModel,
        *,
        family: HFFamily,
        model_id: str,
        preprocessing: Preprocessing,
        revision: str | None = None,
        random_init: bool = False,
        classifier: TokenClassifier | None = None,
    ) -> None:
        super().__init__()
        model.eval()  # type: ignore[no-untyped-call]  # transformers overrides nn.Module.eval unannotated
        self.module = model
        self.family = family
        self.preprocessing = preprocessing
        config = model.config
        self._layers = self._find_blocks(model)
        found = [self._find_qk(layer, block) for layer, block in enumerate(self._layers)]
        self._attentions = [attention for attention, _query, _key in found]
        self._qk = [(query, key) for _attention, query, key in found]
        self._classifier = classifier.eval() if classifier is not None else None
        self.class_names = classifier.class_names if classifier is not None else None
        self._norms = [self._find_norm(layer, block) for layer, block in enumerate(self._layers)]
        n_heads = int(config.num_attention_heads)
        query, _key = self._qk[0]
        d_head = query.out_features // n_heads
        for block in self._layers:
            self._check_scale(block, d_head)
        config_size = _size(config.image_size)
        image_size = preprocessing.crop if family.runs_at_crop else config_size
        if preprocessing.crop != image_size:
            raise UnsupportedModelError(
                f"the processor crops {preprocessing.crop} px but {type(model).__name__} runs at "
                f"{image_size} px (config.image_size)"
            )
        embeddings = cast(nn.Module, model.embeddings)
        self.spec = ModelSpec(
            model_id=model_id,
            family=family.name,
            n_layers=len(self._layers),
            n_heads=n_heads,
            d_model=int(config.hidden_size),
            d_head=d_head,
            patch_size=_size(config.patch_size),
            image_size=image_size,
            prefix_kinds=_prefix_kinds(embeddings),
            revision=revision,
            random_init=random_init,
            extra={
                "library": "transformers",
                "hf_class": type(model).__name__,
                "model_type": config.model_type,
                "qkv_bias": query.bias is not None,
                "config_image_size": config_size,
            },
        )

    @staticmethod
    def _find_blocks(model: nn.Module) -> list[nn.Module]:
        for path in _BLOCK_PATHS:
            blocks = _get_path(model, path)
            if isinstance(blocks, nn.ModuleList) and len(blocks) > 0:
                return list(blocks)
        raise UnsupportedModelError(
            f"cannot find the transformer blocks of {type(model).__name__} (looked for {_BLOCK_PATHS})"
        )

    @staticmethod
    def _find_qk(layer: int, block: nn.Module) -> tuple[nn.Module, nn.Linear, nn.Linear]:
        """The block's attention module and its query and key ``Linear`` layers."""
        for attention_path, query_name, key_name in _QK_PATHS:
            attention = _get_path(block, attention_path)
            query, key = getattr(attention, query_name, None), getattr(attention, key_name, None)
            if isinstance(query, nn.Linear) and isinstance(key, nn.Linear):
                return attention, query, key
        raise UnsupportedModelError(
            f"block {layer} ({type(block).__name__}) has no separate query/key Linear layers the "
            f"adapter knows ({[p for p, _q, _k in _QK_PATHS]}); transformers may have renamed them"
        )

    @staticmethod
    def _check_scale(block: nn.Module, d_head: int) -> None:
        """Refuse logits scaled other than by ``1/√d_h`` (the exact basis assumes it)."""
        for attention_path, _query, _key in _QK_PATHS:
            attention = _get_path(block, attention_path)
            scale = getattr(attention, "scaling", getattr(attention, "scale", None))
            if isinstance(scale, float) and not math.isclose(scale, d_head**-0.5):
                raise UnsupportedModelError(f"{type(block).__name__} scales logits by {scale}, not 1/√d_h")

    @staticmethod
    def _find_norm(layer: int, block: nn.Module) -> nn.LayerNorm:
        for name in _NORM_NAMES:
            norm = getattr(block, name, None)
            if isinstance(norm, nn.LayerNorm):
                return norm
        raise UnsupportedModelError(
            f"block {layer} ({type(block).__name__}) has no pre-attention LayerNorm ({_NORM_NAMES})"
        )

    def blocks(self) -> list[nn.Module]:
        return self._layers

    def _block_norm(self, block: nn.Module) -> nn.Module:
        return self._norms[self._layers.index(block)]

    def layer_weights(self, layer: int) -> LayerWeights:
        query, key = self._qk[layer]
        n_heads, d_head, d_model = self.spec.n_heads, self.spec.d_head, self.spec.d_model

        def heads(linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
            weight = linear.weight.detach().to("cpu", torch.float64).reshape(n_heads, d_head, d_model)
            if linear.bias is None:
                return weight.clone(), torch.zeros(n_heads, d_head, dtype=torch.float64)
            return weight.clone(), linear.bias.detach().to("cpu", torch.float64).reshape(n_heads, d_head)

        w_q, b_q = heads(query)
        w_k, b_k = heads(key)
        norm = self._norms[layer]
        return LayerWeights(
            w_q=w_q,
            w_k=w_k,
            b_q=b_q,
            b_k=b_k,
            ln_weight=norm.weight.detach().to("cpu", torch.float64).clone(),
            ln_bias=norm.bias.detach().to("cpu", torch.float64).clone(),
            ln_eps=float(norm.eps),
        )

    def _run(self, pixels: torch.Tensor) -> None:
        self.module(pixel_values=pixels)

    def to(self, device: torch.device | str) -> HFAdapter:
        super().to(device)
        if self._classifier is not None:
            self._classifier.to(device)
        return self

    def projection_outputs(self, layer: int) -> tuple[ProjectionOutput, ProjectionOutput]:
        """The separate query and key ``Linear`` layers (CLIP scales the queries later, linearly)."""
        query, key = self._qk[layer]
        return ProjectionOutput(query, 0), ProjectionOutput(key, 0)

    def _outputs(self, pixels: torch.Tensor) -> ModelOutputs:
        """The model's pooled output where it has one (CLIP: CLS after ``post_layernorm``; DINOv2: CLS
        after the final norm), else the CLS token after the final norm (ViT, DINO), averaged with the
        distillation token for DeiT (as timm pools it); the checkpoint's classifier on the final tokens."""
        outputs = self.module(pixel_values=pixels)
        tokens = outputs.last_hidden_state  # [B, N, D]
        if outputs.pooler_output is not None:
            embedding = outputs.pooler_output
        elif "distillation" in self.spec.prefix_kinds:
            embedding = (tokens[:, 0] + tokens[:, 1]) / 2
        else:
            embedding = tokens[:, 0]
        logits = self._classifier(tokens) if self._classifier is not None else None
        return ModelOutputs(embedding, logits)

    @contextlib.contextmanager
    def capturing_attention(self, layer: int, keep: AttentionFn) -> Iterator[None]:
        """The attention weights block ``layer``'s attention module returns, under the eager
        implementation for the call (SDPA returns none)."""
        model = cast(PreTrainedModel, self.module)
        handle = self._attentions[layer].register_forward_hook(
            this_thread_only(lambda _m, _args, out: keep(out[1].detach().float()))
        )
        try:
            with self.attention_switch:
                previous = model.config._attn_implementation
                model.set_attn_implementation("eager")
                try:
                    yield
                finally:
                    model.set_attn_implementation(previous)
        finally:
            handle.remove()

    def attention_probs(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        """The model's own ``output_attentions`` under the eager attention implementation (SDPA
        returns none), ``[B, H, N, N]`` per layer, fp32."""
        model = cast(PreTrainedModel, self.module)
        with self.attention_switch:
            previous = model.config._attn_implementation
            model.set_attn_implementation("eager")
            try:
                with torch.inference_mode():
                    outputs = model(pixel_values=pixels, output_attentions=True)
            finally:
                model.set_attn_implementation(previous)
        attentions = outputs.attentions
        if attentions is None or len(attentions) != self.spec.n_layers:
            raise UnsupportedModelError(f"{type(model).__name__} did not return per-layer attentions")
        return [attention.detach().float() for attention in attentions]
