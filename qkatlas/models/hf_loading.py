"""Loading Hugging Face checkpoints: hub ids, local ``save_pretrained`` folders, random init.

The family comes from ``config.model_type`` (``HF_FAMILIES``); layouts the method does not cover are
refused by model type with the reason (``REFUSED_MODEL_TYPES``). Preprocessing comes from the
checkpoint's ``preprocessor_config.json`` when it has one, else from the family's default processor
(``known_models`` documents the mapping).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import RemoteEntryNotFoundError
from torch import nn
from transformers import (
    AutoConfig,
    DeiTForImageClassification,
    DeiTForImageClassificationWithTeacher,
    PretrainedConfig,
    PreTrainedModel,
    ViTForImageClassification,
)

from .base import ModelLoadError, UnsupportedModelError
from .hf_clip import CLIP_FAMILY
from .hf_common import HFAdapter, HFFamily, TokenClassifier, preprocessing_from_processor
from .hf_dinov2 import DINOV2_FAMILY, DINOV2_REGISTERS_FAMILY
from .hf_vit import DEIT_FAMILY, VIT_FAMILY
from .hub import HF_WEIGHT_FILES, load_from_hub, resolve_commit
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


#: Classification checkpoints (``config.architectures``) whose classifier ``load_model(..., classifier=True)``
#: keeps: the class, its encoder's attribute, and (head attribute, token read) pairs.
_CLASSIFIER_CHECKPOINTS: dict[str, tuple[type[PreTrainedModel], str, tuple[tuple[str, int], ...]]] = {
    "ViTForImageClassification": (ViTForImageClassification, "vit", (("classifier", 0),)),
    "DeiTForImageClassification": (DeiTForImageClassification, "deit", (("classifier", 0),)),
    "DeiTForImageClassificationWithTeacher": (
        DeiTForImageClassificationWithTeacher,
        "deit",
        (("cls_classifier", 0), ("distillation_classifier", 1)),
    ),
}


def _pretrained(
    family: HFFamily,
    config: PretrainedConfig,
    load: Callable[[type[PreTrainedModel]], PreTrainedModel],
    classifier: bool,
) -> tuple[PreTrainedModel, TokenClassifier | None]:
    """The encoder loaded by ``load(model class)``, with the checkpoint's classifier when asked for and the
    checkpoint is a classification one (ViT, DeiT ImageNet heads): then the whole classification model
    is loaded and its encoder taken out (the same weights the bare encoder would load)."""
    found = next((_CLASSIFIER_CHECKPOINTS[a] for a in config.architectures or () if a in _CLASSIFIER_CHECKPOINTS), None)
    if not classifier or found is None or family not in (VIT_FAMILY, DEIT_FAMILY):
        return load(family.model_class), None
    model_class, encoder_name, heads = found
    full = load(model_class)
    id2label = cast(dict[int, str], full.config.id2label)
    names = tuple(str(id2label[c]) for c in range(len(id2label)))
    head_modules: list[nn.Module] = [getattr(full, name) for name, _token in heads]
    return getattr(full, encoder_name), TokenClassifier(head_modules, [t for _n, t in heads], names)


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
    classifier: TokenClassifier | None = None,
) -> HFAdapter:
    processor = processor if processor is not None else family.default_processor(model.config)
    return HFAdapter(
        model,
        family=family,
        model_id=model_id,
        preprocessing=preprocessing_from_processor(processor, family),
        revision=revision,
        random_init=random_init,
        classifier=classifier,
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
    model_id: str,
    *,
    random_init: bool,
    revision: str | None,
    overrides: dict[str, Any] | None,
    classifier: bool = False,
) -> HFAdapter:
    """A Hugging Face hub checkpoint: pretrained weights (downloaded), or ``random_init`` from the
    hand-written config of a known id (offline; revision ``None``) or the hub's config. The adapter's
    revision is the commit ``revision`` (default ``main``) pointed to when loaded. ``classifier``: keep the
    checkpoint's classifier, where it is a classification checkpoint with pretrained weights."""
    overrides = dict(overrides or {})
    known = KNOWN_HF_MODELS.get(model_id)
    if random_init and known is not None:
        model_type, attributes = known
        family = _family(model_type, model_id)
        config_class = family.model_class.config_class
        assert config_class is not None
        model = _random_model(family, config_class(**{**attributes, **overrides}), {})
        return _adapter(model, family, None, model_id=model_id, revision=None, random_init=True)
    # The commit the revision points to now, its files checked before any other download, and pinned for
    # the rest of the load, so that the manifest records the weights actually loaded.
    revision = resolve_commit(model_id, revision, weight_files=() if random_init else HF_WEIGHT_FILES)
    config = load_from_hub(model_id, lambda: AutoConfig.from_pretrained(model_id, revision=revision))
    family = _family(config.model_type, model_id)
    head: TokenClassifier | None = None
    if random_init:
        model = _random_model(family, config, overrides)
    else:

        def load(model_class: type[PreTrainedModel]) -> PreTrainedModel:
            kwargs = _init_kwargs(family) if model_class is family.model_class else {}
            return load_from_hub(
                model_id,
                lambda: model_class.from_pretrained(model_id, revision=revision, **kwargs, **overrides),
            )

        model, head = _pretrained(family, config, load, classifier)
    processor = _hub_processor(model_id, revision)
    return _adapter(
        model, family, processor, model_id=model_id, revision=revision, random_init=random_init, classifier=head
    )


def load_hf_directory(
    directory: Path,
    *,
    model_id: str,
    random_init: bool,
    revision: str | None,
    overrides: dict[str, Any] | None,
    classifier: bool = False,
) -> HFAdapter:
    """A local ``save_pretrained`` folder (``config.json`` with ``model_type``; weights unless
    ``random_init``; ``preprocessor_config.json`` when present), read from disk only (never the hub);
    ``revision``: the folder's content hash (``checkpoint_hash``)."""
    overrides = dict(overrides or {})
    try:
        config = AutoConfig.from_pretrained(directory)
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot read the Hugging Face config in {directory}: {error}") from error
    family = _family(config.model_type, model_id)
    head: TokenClassifier | None = None
    if random_init:
        model = _random_model(family, config, overrides)
    else:

        def load(model_class: type[PreTrainedModel]) -> PreTrainedModel:
            kwargs = _init_kwargs(family) if model_class is family.model_class else {}
            try:
                return model_class.from_pretrained(directory, **kwargs, **overrides)
            except (OSError, ValueError, RuntimeError) as error:
                raise ModelLoadError(f"cannot load the checkpoint in {directory}: {error}") from error

        model, head = _pretrained(family, config, load, classifier)
    processor_path = directory / _PROCESSOR_FILE
    processor = json.loads(processor_path.read_text()) if processor_path.is_file() else None
    return _adapter(
        model, family, processor, model_id=model_id, revision=revision, random_init=random_init, classifier=head
    )
