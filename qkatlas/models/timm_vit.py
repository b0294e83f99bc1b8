"""timm ``VisionTransformer`` family: ViT, DeiT (incl. distilled), DINO, DINOv2(+registers), CLIP...

Token order in timm: ``[cls?, dist? | registers..., patches]`` (``_pos_embed``); the number of
prefix tokens is read from the model (``num_prefix_tokens``, ``cls_token``, ``dist_token``,
``reg_token``). Each block is ``x + attn(norm1(x))`` with a fused ``qkv`` Linear whose output rows
stack ``[q; k; v]``, each ``[H·d_h]`` rows with head ``h`` owning rows ``h·d_h … (h+1)·d_h``.
CLIP-style models apply ``norm_pre`` before block 0; the residual entering block 0 is after it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import timm
import torch
from timm.data.config import resolve_model_data_config
from timm.data.imagenet_info import ImageNetInfo, infer_imagenet_subset
from timm.layers.attention import Attention
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from qkatlas.images.preprocessing import Preprocessing

from .base import (
    AttentionFn,
    LayerWeights,
    ModelLoadError,
    ModelOutputs,
    ModelSpec,
    PlantedMode,
    PrefixKind,
    ProjectionOutput,
    UnsupportedModelError,
    ViTAdapter,
    this_thread_only,
)
from .hub import load_from_hub, resolve_commit

_INTERPOLATIONS = {"bilinear", "bicubic", "nearest"}


def check_timm_model_supported(model: nn.Module) -> VisionTransformer:
    """``model`` as a ``VisionTransformer`` whose blocks the method covers, else raise
    ``UnsupportedModelError`` with the reason."""
    name = type(model).__name__
    if not isinstance(model, VisionTransformer):
        lowered = name.lower()
        if "beit" in lowered or "swin" in lowered:
            reason = "adds a relative position bias to the attention logits"
        elif "eva" in lowered:
            reason = "is an EVA model (rotary position embeddings / split q-v biases are not covered)"
        else:
            reason = "is not a plain ViT-style vision transformer"
        raise UnsupportedModelError(
            f"timm model class {name} {reason}; the q/k mode analysis needs logits "
            "that are a bilinear form of LayerNorm outputs."
        )
    for layer, block in enumerate(model.blocks):
        attn = getattr(block, "attn", None)
        if type(block) is not Block or type(attn) is not Attention:
            raise UnsupportedModelError(
                f"{name} block {layer} is a {type(block).__name__} with {type(attn).__name__}; only the "
                "pre-norm Block with plain Attention is covered (post-norm, parallel and differential "
                "attention blocks are not)."
            )
        if not isinstance(attn.q_norm, nn.Identity) or not isinstance(attn.k_norm, nn.Identity):
            raise UnsupportedModelError(
                f"{name} normalizes queries and keys (qk_norm=True): the logits are not a bilinear form "
                "of the block input, so its singular modes would not describe the attention."
            )
        if not isinstance(block.norm1, nn.LayerNorm):
            raise UnsupportedModelError(
                f"{name} block {layer} feeds q/k through {type(block.norm1).__name__}, not a LayerNorm."
            )
        if not math.isclose(attn.scale, attn.head_dim**-0.5):
            raise UnsupportedModelError(f"{name} scales logits by {attn.scale}, not 1/sqrt(d_head).")
    return model


def _timm_preprocessing(model: nn.Module, image_size: int) -> Preprocessing:
    """The eval transform timm builds for this model at ``image_size`` (the size its patch embedding
    expects, which wins over the pretrained config's ``input_size`` when a test overrides it):
    ``resize = floor(crop / crop_pct)``, interpolation, mean and std from the pretrained config."""
    config = resolve_model_data_config(model)  # type: ignore[no-untyped-call]  # timm leaves it unannotated
    crop_mode = config.get("crop_mode", "center") or "center"
    if crop_mode not in ("center", "squash"):
        raise UnsupportedModelError(f"timm crop_mode {crop_mode!r} is not supported (center, squash)")
    interpolation = config.get("interpolation", "bicubic")
    return Preprocessing(
        crop=image_size,
        resize=math.floor(image_size / config.get("crop_pct", 1.0)),
        resize_mode="shortest" if crop_mode == "center" else "exact",
        mean=cast(tuple[float, float, float], tuple(float(m) for m in config["mean"])),
        std=cast(tuple[float, float, float], tuple(float(s) for s in config["std"])),
        interpolation=interpolation if interpolation in _INTERPOLATIONS else "bicubic",
    )


def _prefix_kinds(model: VisionTransformer) -> tuple[PrefixKind, ...]:
    kinds: list[PrefixKind] = []
    if model.cls_token is not None:
        kinds.append("cls")
    if getattr(model, "dist_token", None) is not None:
        kinds.append("distillation")
    if model.reg_token is not None:
        kinds.extend(["register"] * model.reg_token.shape[1])
    if len(kinds) != model.num_prefix_tokens:
        raise UnsupportedModelError(
            f"{type(model).__name__} reports {model.num_prefix_tokens} prefix tokens but carries {kinds}"
        )
    return tuple(kinds)


class TimmViTAdapter(ViTAdapter):
    """A timm ``VisionTransformer`` (or ``VisionTransformerDistilled``) behind ``ViTAdapter``."""

    def __init__(
        self,
        model: nn.Module,
        *,
        model_id: str,
        revision: str | None = None,
        random_init: bool = False,
        family: str = "timm-vit",
        preprocessing: Preprocessing | None = None,
        planted_modes: tuple[PlantedMode, ...] = (),
    ) -> None:
        super().__init__()
        vit = check_timm_model_supported(model)
        vit.eval()
        self.module = vit
        patch_embed = vit.patch_embed
        img_h, img_w = patch_embed.img_size
        patch_h, patch_w = patch_embed.patch_size
        if img_h != img_w or patch_h != patch_w:
            raise UnsupportedModelError(f"non-square image {img_h}x{img_w} or patch {patch_h}x{patch_w}")
        first_attn = cast(Attention, vit.blocks[0].attn)
        self.preprocessing = preprocessing or _timm_preprocessing(vit, int(img_h))
        if self.preprocessing.crop != img_h:
            raise UnsupportedModelError(
                f"preprocessing crops {self.preprocessing.crop} px but the model expects {img_h} px"
            )
        self.spec = ModelSpec(
            model_id=model_id,
            family=family,
            n_layers=len(vit.blocks),
            n_heads=first_attn.num_heads,
            d_model=vit.embed_dim,
            d_head=first_attn.head_dim,
            patch_size=int(patch_h),
            image_size=int(img_h),
            prefix_kinds=_prefix_kinds(vit),
            revision=revision,
            random_init=random_init,
            extra={
                "library": "timm",
                "timm_class": type(vit).__name__,
                "qkv_bias": first_attn.qkv.bias is not None,
                "norm_pre": not isinstance(vit.norm_pre, nn.Identity),
            },
            planted_modes=planted_modes,
        )

    def _vit(self) -> VisionTransformer:
        return cast(VisionTransformer, self.module)

    def blocks(self) -> list[nn.Module]:
        return list(self._vit().blocks)

    def _block_norm(self, block: nn.Module) -> nn.Module:
        return cast(nn.Module, block.norm1)

    def _attention(self, layer: int) -> Attention:
        return cast(Attention, self._vit().blocks[layer].attn)

    def layer_weights(self, layer: int) -> LayerWeights:
        attn = self._attention(layer)
        n_heads, d_head, width = attn.num_heads, attn.head_dim, attn.attn_dim
        weight = attn.qkv.weight.detach().to("cpu", torch.float64)  # [3·H·d_h, d] = [q; k; v]
        d_model = weight.shape[1]
        if attn.qkv.bias is not None:
            bias = attn.qkv.bias.detach().to("cpu", torch.float64)
        else:
            bias = torch.zeros(3 * width, dtype=torch.float64)
        norm = cast(nn.LayerNorm, self._vit().blocks[layer].norm1)
        return LayerWeights(
            w_q=weight[:width].reshape(n_heads, d_head, d_model).clone(),
            w_k=weight[width : 2 * width].reshape(n_heads, d_head, d_model).clone(),
            b_q=bias[:width].reshape(n_heads, d_head).clone(),
            b_k=bias[width : 2 * width].reshape(n_heads, d_head).clone(),
            ln_weight=_norm_param(norm.weight, d_model, fill=1.0),
            ln_bias=_norm_param(norm.bias, d_model, fill=0.0),
            ln_eps=float(norm.eps),
        )

    def _run(self, pixels: torch.Tensor) -> None:
        self._vit().forward_features(pixels)  # embeddings, blocks, final norm; no pooling or head

    def projection_outputs(self, layer: int) -> tuple[ProjectionOutput, ProjectionOutput]:
        """The fused ``qkv`` Linear: queries are its first ``H·d_h`` output rows, keys the next."""
        attn = self._attention(layer)
        return ProjectionOutput(attn.qkv, 0), ProjectionOutput(attn.qkv, attn.attn_dim)

    def _outputs(self, pixels: torch.Tensor) -> ModelOutputs:
        """timm's own pooling (``forward_head(pre_logits=True)``: the CLS token after the final norm, or
        the mean of CLS and distillation tokens for distilled DeiT), and its head's logits (distilled
        DeiT: the mean of its two heads)."""
        vit = self._vit()
        features = vit.forward_features(pixels)
        logits = vit.forward_head(features) if self.class_names is not None else None
        return ModelOutputs(vit.forward_head(features, pre_logits=True), logits)

    @contextlib.contextmanager
    def capturing_attention(self, layer: int, keep: AttentionFn) -> Iterator[None]:
        """The input of block ``layer``'s ``attn_drop`` (the softmax), with the fused path of that block
        switched off meanwhile (SDPA never forms the probabilities)."""
        attn = self._attention(layer)
        handle = attn.attn_drop.register_forward_hook(
            this_thread_only(lambda _m, args, _out: keep(args[0].detach().float()))
        )
        try:
            with self.attention_switch:
                was_fused = attn.fused_attn
                setattr(attn, "fused_attn", False)  # noqa: B010 (declared Final in timm)
                try:
                    yield
                finally:
                    setattr(attn, "fused_attn", was_fused)  # noqa: B010
        finally:
            handle.remove()

    def attention_probs(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        """Softmaxed attention of every block, captured at the input of ``attn.attn_drop`` with the
        fused (SDPA) path switched off for the call: ``[B, H, N, N]`` per layer, fp32."""
        vit = self._vit()
        attentions = [cast(Attention, block.attn) for block in vit.blocks]
        captured: list[torch.Tensor] = []
        fused = [attn.fused_attn for attn in attentions]
        handles = [
            attn.attn_drop.register_forward_hook(
                this_thread_only(lambda _m, args, _out: captured.append(args[0].detach().float()))
            )
            for attn in attentions
        ]
        try:
            with self.attention_switch:
                for attn in attentions:
                    setattr(attn, "fused_attn", False)  # noqa: B010 (declared Final in timm)
                try:
                    with torch.inference_mode():
                        self._run(pixels)
                finally:
                    for attn, was_fused in zip(attentions, fused, strict=True):
                        setattr(attn, "fused_attn", was_fused)  # noqa: B010
        finally:
            for handle in handles:
                handle.remove()
        return captured


def _norm_param(param: torch.Tensor | None, size: int, *, fill: float) -> torch.Tensor:
    """A LayerNorm's γ or β as float64 on the CPU (``fill`` when the norm has no such parameter)."""
    if param is None:
        return torch.full((size,), fill, dtype=torch.float64)
    return param.detach().to("cpu", torch.float64).clone()


def _create(
    name: str, *, pretrained: bool, overrides: dict[str, Any] | None, classifier: bool = False, **extra: Any
) -> nn.Module:
    """``timm.create_model``, without a classifier head unless ``classifier`` (the encoder is all the
    method needs). A pretrained model keeps its checkpoint's head; a random one is built headless
    first (its encoder draws the same random numbers either way) and gets a random head after."""
    kwargs: dict[str, Any] = {"num_classes": 0, **extra}
    if classifier and pretrained:
        del kwargs["num_classes"]
    kwargs.update(overrides or {})
    model = timm.create_model(name, pretrained=pretrained, **kwargs)
    if classifier and not pretrained and isinstance(model, VisionTransformer):
        pretrained_cfg = cast(dict[str, Any], model.pretrained_cfg)
        model.reset_classifier(int(pretrained_cfg.get("num_classes") or 0))
    return model


def _with_class_names(adapter: TimmViTAdapter) -> TimmViTAdapter:
    """The adapter with the ImageNet class names of its head, when it has a head of ImageNet classes
    (a projection head, like CLIP's, is no classifier)."""
    vit = adapter._vit()
    subset = infer_imagenet_subset(vit) if vit.num_classes > 0 else None
    if subset is not None:
        info = ImageNetInfo(subset)
        adapter.class_names = tuple(info.index_to_description(c) for c in range(vit.num_classes))
    return adapter


def load_timm(
    name: str,
    *,
    model_id: str,
    random_init: bool,
    revision: str | None,
    overrides: dict[str, Any] | None,
    classifier: bool = False,
) -> TimmViTAdapter:
    """A timm model by name (``arch`` or ``arch.tag``): random weights, or the pretrained ones
    downloaded from the hub (``timm/<arch>.<tag>``, at the commit ``revision`` (default ``main``) points
    to, which the adapter records; ``None`` for weights timm downloads from elsewhere); with the classifier
    head when ``classifier`` and the model has one."""
    arch = name.split(".", 1)[0]
    if not timm.is_model(arch):
        raise ModelLoadError(
            f"unknown model id {model_id!r}: not a timm model name, a Hugging Face id (org/name), an "
            "existing local checkpoint directory, or 'planted'"
        )
    if random_init:
        model = _create(name, pretrained=False, overrides=overrides, classifier=classifier)
        return _with_class_names(TimmViTAdapter(model, model_id=model_id, random_init=True))
    # Refuse unsupported layouts before downloading anything: build the skeleton on the meta device.
    with torch.device("meta"):
        check_timm_model_supported(_create(name, pretrained=False, overrides=overrides))
    extra: dict[str, Any] = {}
    pretrained_cfg = timm.models.get_pretrained_cfg(name)
    hub_id = (pretrained_cfg.hf_hub_id if pretrained_cfg else None) or (f"timm/{name}" if revision else None)
    if hub_id is not None:  # weights from the hub: pinned to the commit ``revision`` points to now
        # timm repositories have a config.json; those of other libraries (open_clip) name their weights file.
        first_file = (pretrained_cfg.hf_hub_filename if pretrained_cfg else None) or "config.json"
        revision = resolve_commit(hub_id, revision, first_file=first_file, weight_files=())
        extra["pretrained_cfg_overlay"] = {"hf_hub_id": f"{hub_id}@{revision}"}
    model = load_from_hub(
        model_id, lambda: _create(name, pretrained=True, overrides=overrides, classifier=classifier, **extra)
    )
    return _with_class_names(TimmViTAdapter(model, model_id=model_id, revision=revision))


def load_timm_directory(
    directory: Path,
    config: dict[str, Any],
    *,
    model_id: str,
    random_init: bool,
    revision: str | None,
    overrides: dict[str, Any] | None,
    classifier: bool = False,
) -> TimmViTAdapter:
    """A timm checkpoint folder (``config.json`` with ``architecture`` and ``pretrained_cfg``, plus
    ``model.safetensors`` or ``pytorch_model.bin``, as ``timm.models.save_for_hf`` writes it),
    loaded through timm's own ``local-dir:`` path (never the hub); ``revision``: the folder's
    content hash (``checkpoint_hash``)."""
    if not timm.is_model(str(config["architecture"])):
        raise ModelLoadError(f"{directory}: unknown timm architecture {config['architecture']!r}")
    try:
        model = _create(
            f"local-dir:{directory}", pretrained=not random_init, overrides=overrides, classifier=classifier
        )
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot load the timm checkpoint in {directory}: {error}") from error
    return _with_class_names(TimmViTAdapter(model, model_id=model_id, random_init=random_init, revision=revision))
