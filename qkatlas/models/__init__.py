"""Model adapters: one interface (``ViTAdapter``) over timm and Hugging Face vision transformers.

``load_model(model_id)`` goes through the model families of ``MODEL_FAMILIES`` (planted, timm,
Hugging Face; each says which ids and local checkpoints it recognises and how it loads them) and
resolves, in order:

1. an id a family owns outright (``ModelFamily.names``): ``'planted'``, the hand-set planted-mode
   model (``qkatlas.models.planted``);
2. an existing local directory, by its ``config.json`` (``ModelFamily.checkpoint``): a timm
   checkpoint (``architecture``, plus ``model.safetensors``/``pytorch_model.bin``, the layout of
   timm's ``push_to_hub``) or a Hugging Face one (``model_type``, written by ``save_pretrained``);
3. the first family whose ``recognises_id`` accepts the id: a timm name
   (``vit_small_patch16_224.dino``), optionally prefixed ``timm/`` or ``hf-hub:timm/``; else a
   Hugging Face hub id (``facebook/dino-vits16``).

``random_init=True`` builds the architecture from its config without downloading weights, seeded
with ``torch.manual_seed(seed)``: timm names need nothing; Hugging Face ids use the hand-written
configs of ``known_models.KNOWN_HF_MODELS`` (the paper's 13 models and DINOv2 with/without registers)
when the hub is out of reach. Adapters: ``timm_vit`` (timm ``VisionTransformer``: ViT, DeiT incl.
distilled, DINO, DINOv2(+reg), CLIP); Hugging Face architectures, chosen by ``config.model_type``
from ``hf_loading.HF_FAMILIES``: ``hf_vit`` (ViT, DINO, DeiT), ``hf_clip`` (CLIP vision tower),
``hf_dinov2`` (DINOv2 with and without registers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .base import (
    CaptureFn,
    LayerWeights,
    ModelLoadError,
    ModelSpec,
    UnsupportedModelError,
    ViTAdapter,
)
from .checkpoint_hash import CheckpointChangedError, verified_revision
from .source import ModelSource

__all__ = [
    "CaptureFn",
    "CheckpointChangedError",
    "LayerWeights",
    "ModelLoadError",
    "ModelSource",
    "ModelSpec",
    "UnsupportedModelError",
    "ViTAdapter",
    "load_model",
    "load_model_from_source",
    "local_checkpoint",
    "model_slug",
    "model_source",
    "needs_hub",
]

_TIMM_PREFIXES = ("hf-hub:timm/", "timm/")


def load_model(
    model_id: str,
    *,
    random_init: bool = False,
    seed: int = 0,
    revision: str | None = None,
    overrides: dict[str, Any] | None = None,
    classifier: bool = False,
) -> ViTAdapter:
    """Load ``model_id`` behind the ``ViTAdapter`` interface (see the module docstring).

    ``overrides`` are timm ``create_model`` kwargs or Hugging Face config attributes (e.g.
    ``{'depth': 2}`` / ``{'num_hidden_layers': 2}``), for small test and benchmark instances.
    ``classifier``: also keep the checkpoint's classifier where it has one (``ViTAdapter.class_names``;
    timm heads of ImageNet classes, random with random weights; Hugging Face ViT/DeiT classification
    checkpoints); the encoder's weights are the same either way, and nothing but
    ``ViTAdapter.outputs`` runs the classifier.
    A local checkpoint folder loads its own weights, never the hub's; its revision is its content hash
    (``checkpoint_hash``), recorded, and checked when ``revision`` is given.
    Raises ``ModelLoadError`` (unknown id, unreadable checkpoint, hub unreachable; a local folder that
    no longer hashes to ``revision``: ``CheckpointChangedError``) or ``UnsupportedModelError`` (a
    layout the method does not cover) with the reason.
    """
    local = local_checkpoint(model_id)
    if local is not None and not random_init:
        revision = verified_revision(local, revision)
    adapter = _load(
        model_id, random_init=random_init, seed=seed, revision=revision, overrides=overrides, classifier=classifier
    )
    adapter.source = ModelSource(
        id=model_id,
        random_init=random_init,
        seed=seed,
        revision=adapter.spec.revision,  # the commit loaded (``revision`` may be a branch), or None
        overrides=dict(overrides or {}),
        planted=model_id == "planted",
    )
    return adapter


@dataclass(frozen=True)
class LoadRequest:
    """What ``load_model`` was asked for (its arguments), as a family's loader receives it."""

    model_id: str
    random_init: bool
    seed: int
    revision: str | None
    overrides: dict[str, Any] | None
    classifier: bool = False


def _no_id(_model_id: str) -> bool:
    return False


@dataclass(frozen=True)
class CheckpointFormat:
    """How a family recognises a local checkpoint folder: ``config_key`` in its ``config.json``."""

    config_key: str
    load: Callable[[Path, dict[str, Any], LoadRequest], ViTAdapter]


@dataclass(frozen=True)
class ModelFamily:
    """One way of loading models behind ``ViTAdapter``: which ids and local checkpoints it
    recognises, and how it loads them. ``load_model`` resolves an id against ``MODEL_FAMILIES``
    (the module docstring gives the order).

    ``names``: ids the family owns outright, recognised before anything else (even a local folder
    of that name) and loaded as they are (hand-set weights: no seeding). ``recognises_id``: the hub
    or registry ids it loads with ``load`` (families are asked in order; the first to say yes loads
    it). ``checkpoint``: the local checkpoint folders it loads. ``name`` appears in error messages.
    """

    name: str
    load: Callable[[LoadRequest], ViTAdapter]
    names: tuple[str, ...] = ()
    recognises_id: Callable[[str], bool] = _no_id
    checkpoint: CheckpointFormat | None = None


# The loaders import their library on first use, so importing qkatlas.models stays cheap.


def _load_planted(_request: LoadRequest) -> ViTAdapter:
    from .planted import load_planted

    return load_planted()


def _is_timm_id(model_id: str) -> bool:
    return model_id.startswith(_TIMM_PREFIXES) or "/" not in model_id


def _load_timm(request: LoadRequest) -> ViTAdapter:
    from .timm_vit import load_timm

    name = request.model_id
    for prefix in _TIMM_PREFIXES:
        name = name.removeprefix(prefix)
    return load_timm(
        name,
        model_id=request.model_id,
        random_init=request.random_init,
        revision=request.revision,
        overrides=request.overrides,
        classifier=request.classifier,
    )


def _load_timm_directory(directory: Path, config: dict[str, Any], request: LoadRequest) -> ViTAdapter:
    from .timm_vit import load_timm_directory

    return load_timm_directory(
        directory,
        config,
        model_id=request.model_id,
        random_init=request.random_init,
        revision=request.revision,
        overrides=request.overrides,
        classifier=request.classifier,
    )


def _any_id(_model_id: str) -> bool:
    return True


def _load_hf(request: LoadRequest) -> ViTAdapter:
    from .hf_loading import load_hf_hub

    return load_hf_hub(
        request.model_id,
        random_init=request.random_init,
        revision=request.revision,
        overrides=request.overrides,
        classifier=request.classifier,
    )


def _load_hf_directory(directory: Path, _config: dict[str, Any], request: LoadRequest) -> ViTAdapter:
    from .hf_loading import load_hf_directory

    return load_hf_directory(
        directory,
        model_id=request.model_id,
        random_init=request.random_init,
        revision=request.revision,
        overrides=request.overrides,
        classifier=request.classifier,
    )


#: Every model family, in the order ids are matched against them. Hugging Face comes last: it takes
#: any ``org/name`` id the others leave (its own families, by ``config.model_type``, are
#: ``hf_loading.HF_FAMILIES``).
MODEL_FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(name="planted", load=_load_planted, names=("planted",)),
    ModelFamily(
        name="timm",
        load=_load_timm,
        recognises_id=_is_timm_id,
        checkpoint=CheckpointFormat("architecture", _load_timm_directory),
    ),
    ModelFamily(
        name="Hugging Face",
        load=_load_hf,
        recognises_id=_any_id,
        checkpoint=CheckpointFormat("model_type", _load_hf_directory),
    ),
)


def _load(
    model_id: str,
    *,
    random_init: bool,
    seed: int,
    revision: str | None,
    overrides: dict[str, Any] | None,
    classifier: bool,
) -> ViTAdapter:
    request = LoadRequest(model_id, random_init, seed, revision, overrides, classifier)
    for family in MODEL_FAMILIES:
        if model_id in family.names:
            return family.load(request)
    if random_init:
        torch.manual_seed(seed)
    local = local_checkpoint(model_id)
    if local is not None:
        return _load_local(local, request)
    for family in MODEL_FAMILIES:
        if family.recognises_id(model_id):
            return family.load(request)
    raise ModelLoadError(f"unknown model id {model_id!r}")  # unreachable while a family takes any id


def local_checkpoint(model_id: str) -> Path | None:
    """The local checkpoint folder ``model_id`` names (loaded from disk: it never needs the hub), else
    ``None`` (a hub id, a timm name, or an id a family owns such as ``planted``)."""
    if any(model_id in family.names for family in MODEL_FAMILIES):
        return None
    local = Path(model_id).expanduser()
    return local if local.is_dir() else None


def needs_hub(model_id: str) -> bool:
    """Whether loading ``model_id``'s trained weights needs the hub (a hub id or timm name); a local
    checkpoint folder and the ids a family owns (``planted``) are loaded without it."""
    return local_checkpoint(model_id) is None and not any(model_id in family.names for family in MODEL_FAMILIES)


def _load_local(directory: Path, request: LoadRequest) -> ViTAdapter:
    formats = [(f.name, f.checkpoint) for f in MODEL_FAMILIES if f.checkpoint is not None]
    config_path = directory / "config.json"
    if not config_path.is_file():
        names = " or ".join(name for name, _ in formats)
        raise ModelLoadError(f"{directory} has no config.json; not a {names} checkpoint")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"cannot read {config_path}: {error}") from error
    for _, checkpoint in formats:
        if checkpoint.config_key in config:
            return checkpoint.load(directory, config, request)
    keys = " nor ".join(f"{checkpoint.config_key!r} ({name})" for name, checkpoint in formats)
    raise ModelLoadError(f"{config_path} has neither {keys}")


def model_source(adapter: ViTAdapter) -> ModelSource:
    """What ``load_model_from_source`` needs to rebuild ``adapter``'s weights (recorded at load)."""
    if adapter.source is None:
        raise ValueError("this adapter was not created by load_model; its source is unknown")
    return adapter.source


def load_model_from_source(source: ModelSource, *, classifier: bool = False) -> ViTAdapter:
    """Rebuild a model from its recorded source (e.g. an atlas's ``manifest.model_source``), with its
    classifier when ``classifier`` (``load_model``)."""
    return load_model(
        source.id,
        random_init=source.random_init,
        seed=source.seed,
        revision=source.revision,
        overrides=source.overrides or None,
        classifier=classifier,
    )


def model_slug(model_id: str) -> str:
    """A stable, lowercase, URL-safe name (``[a-z0-9._-]``) for ``model_id``.

    ``'facebook/dino-vits16'`` → ``'facebook--dino-vits16'``; ``'vit_small_patch16_224.dino'`` stays;
    ``'timm/…'`` / ``'hf-hub:timm/…'`` prefixes are dropped (same model as the bare timm name);
    a local directory → its directory name.
    """
    name = model_id.strip()
    local = Path(name).expanduser()
    if name not in ("", ".", "..") and ("/" in name or "\\" in name) and local.is_dir():
        name = local.resolve().name
    else:
        for prefix in _TIMM_PREFIXES:
            name = name.removeprefix(prefix)
        name = name.replace("/", "--")
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    return slug or "model"
