"""Loading Hugging Face checkpoints: hub ids, local ``save_pretrained`` folders, random init.

The family comes from ``config.model_type`` (``HF_FAMILIES``); layouts the method does not cover are
refused by model type with the reason (``REFUSED_MODEL_TYPES``). Preprocessing comes from the
checkpoint's ``preprocessor_config.json`` when it has one, else from the family's default processor
(``known_models`` documents the mapping).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import RemoteEntryNotFoundError
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel

from .base import ModelLoadError, UnsupportedModelError
from .hf_clip import CLIP_FAMILY
from .hf_common import HFAdapter, HFFamily, preprocessing_from_processor
from .hf_dinov2 import DINOV2_FAMILY, DINOV2_REGISTERS_FAMILY
from .hf_vit import DEIT_FAMILY, VIT_FAMILY
from .hub import load_from_hub
from .known_models import KNOWN_HF_MODELS

HF_FAMILIES: tuple[HFFamily, ...] = (
    VIT_FAMILY,
    DEIT_FAMILY,
    CLIP_FAMILY,
    DINOV2_FAMILY,
    DINOV2_REGISTERS_FAMILY,
)

_RELATIVE_BIAS = "adds a relative position bias to the attention logits"
REFUSED_MODEL_TYPES: dict[str, str] = {
    "beit": _RELATIVE_BIAS,
    "data2vec-vision": _RELATIVE_BIAS,
    "swin": f"uses windowed attention and {_RELATIVE_BIAS}",
    "swinv2": f"uses windowed attention and {_RELATIVE_BIAS}",
    "dinov3_vit": "uses rotary position embeddings (the logits are not a bilinear form of the tokens)",
    "vitdet": f"uses windowed attention and {_RELATIVE_BIAS}",
}
_PROCESSOR_FILE = "preprocessor_config.json"


def _family(model_type: str, model_id: str) -> HFFamily:
    for family in HF_FAMILIES:
        if model_type in family.model_types:
            return family
    reason = REFUSED_MODEL_TYPES.get(model_type, "is not a covered ViT-style vision encoder")
    covered = sorted(t for f in HF_FAMILIES for t in f.model_types)
    raise UnsupportedModelError(
        f"{model_id!r} has model_type {model_type!r}, which {reason}; covered model types: {covered}"
    )


def _init_kwargs(family: HFFamily) -> dict[str, Any]:
    """Constructor arguments: no pooler for the encoders that have an optional one."""
    return {"add_pooling_layer": False} if family in (VIT_FAMILY, DEIT_FAMILY) else {}


def _random_model(family: HFFamily, config: PretrainedConfig, overrides: dict[str, Any]) -> PreTrainedModel:
    """A freshly initialized encoder (the caller seeds ``torch``) from the vision part of
    ``config`` with ``overrides`` set on a copy."""
    vision = copy.deepcopy(family.vision_config(config))
    for name, value in overrides.items():
        setattr(vision, name, value)
    return family.model_class(vision, **_init_kwargs(family))


def _adapter(
    model: PreTrainedModel,
    family: HFFamily,
    processor: dict[str, Any] | None,
    *,
    model_id: str,
    revision: str | None,
    random_init: bool,
) -> HFAdapter:
    processor = processor if processor is not None else family.default_processor(model.config)
    return HFAdapter(
        model,
        family=family,
        model_id=model_id,
        preprocessing=preprocessing_from_processor(processor, family),
        revision=revision,
        random_init=random_init,
    )


def _hub_processor(model_id: str, revision: str | None) -> dict[str, Any] | None:
    """The hub checkpoint's processor config, or ``None`` when the repository has none."""

    def fetch() -> dict[str, Any] | None:
        try:
            path = hf_hub_download(model_id, _PROCESSOR_FILE, revision=revision)
        except RemoteEntryNotFoundError:
            return None
        return dict(json.loads(Path(path).read_text()))

    return load_from_hub(model_id, fetch)


def load_hf_hub(
    model_id: str, *, random_init: bool, revision: str | None, overrides: dict[str, Any] | None
) -> HFAdapter:
    """A Hugging Face hub checkpoint: pretrained weights (downloaded), or ``random_init`` from the
    hand-written config of a known id (offline) or the hub's config."""
    overrides = dict(overrides or {})
    known = KNOWN_HF_MODELS.get(model_id)
    if random_init and known is not None:
        model_type, attributes = known
        family = _family(model_type, model_id)
        config_class = family.model_class.config_class
        assert config_class is not None
        model = _random_model(family, config_class(**{**attributes, **overrides}), {})
        return _adapter(model, family, None, model_id=model_id, revision=revision, random_init=True)
    config = load_from_hub(model_id, lambda: AutoConfig.from_pretrained(model_id, revision=revision))
    family = _family(config.model_type, model_id)
    if random_init:
        model = _random_model(family, config, overrides)
    else:
        model = load_from_hub(
            model_id,
            lambda: family.model_class.from_pretrained(
                model_id, revision=revision or "main", **_init_kwargs(family), **overrides
            ),
        )
    processor = _hub_processor(model_id, revision)
    return _adapter(model, family, processor, model_id=model_id, revision=revision, random_init=random_init)


def load_hf_directory(
    directory: Path, *, model_id: str, random_init: bool, overrides: dict[str, Any] | None
) -> HFAdapter:
    """A local ``save_pretrained`` folder (``config.json`` with ``model_type``; weights unless
    ``random_init``; ``preprocessor_config.json`` when present)."""
    overrides = dict(overrides or {})
    try:
        config = AutoConfig.from_pretrained(directory)
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot read the Hugging Face config in {directory}: {error}") from error
    family = _family(config.model_type, model_id)
    if random_init:
        model = _random_model(family, config, overrides)
    else:
        try:
            model = family.model_class.from_pretrained(directory, **_init_kwargs(family), **overrides)
        except (OSError, ValueError, RuntimeError) as error:
            raise ModelLoadError(f"cannot load the checkpoint in {directory}: {error}") from error
    processor_path = directory / _PROCESSOR_FILE
    processor = json.loads(processor_path.read_text()) if processor_path.is_file() else None
    return _adapter(model, family, processor, model_id=model_id, revision=None, random_init=random_init)
