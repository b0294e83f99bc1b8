"""Model adapters: one interface (``ViTAdapter``) over timm and Hugging Face vision transformers.

``load_model(model_id)`` resolves, in order:

1. ``'planted'`` — the hand-set planted-mode model (``qkatlas.models.planted``);
2. an existing local directory — a Hugging Face checkpoint (``config.json`` with ``model_type``,
   written by ``save_pretrained``) or a timm checkpoint (``config.json`` with ``architecture``, plus
   ``model.safetensors``/``pytorch_model.bin``, the layout of timm's ``push_to_hub``);
3. a timm name (``vit_small_patch16_224.dino``), optionally prefixed ``timm/`` or ``hf-hub:timm/``;
4. a Hugging Face hub id (``facebook/dino-vits16``).

``random_init=True`` builds the architecture from its config without downloading weights, seeded
with ``torch.manual_seed(seed)``: timm names need nothing; Hugging Face ids use the hand-written
configs of ``known_models.KNOWN_HF_MODELS`` (the paper's 13 models and DINOv2 with/without registers)
when the hub is out of reach. Families: ``timm_vit`` (timm ``VisionTransformer``: ViT, DeiT incl.
distilled, DINO, DINOv2(+reg), CLIP), ``hf_vit`` (ViT, DINO, DeiT), ``hf_clip`` (CLIP vision tower),
``hf_dinov2`` (DINOv2 with and without registers).
"""

from __future__ import annotations

import json
import re
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
from .source import ModelSource

__all__ = [
    "CaptureFn",
    "LayerWeights",
    "ModelLoadError",
    "ModelSource",
    "ModelSpec",
    "UnsupportedModelError",
    "ViTAdapter",
    "load_model",
    "load_model_from_source",
    "model_slug",
    "model_source",
]

_TIMM_PREFIXES = ("hf-hub:timm/", "timm/")


def load_model(
    model_id: str,
    *,
    random_init: bool = False,
    seed: int = 0,
    revision: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> ViTAdapter:
    """Load ``model_id`` behind the ``ViTAdapter`` interface (see the module docstring).

    ``overrides`` are timm ``create_model`` kwargs or Hugging Face config attributes (e.g.
    ``{'depth': 2}`` / ``{'num_hidden_layers': 2}``), for small test and benchmark instances.
    Raises ``ModelLoadError`` (unknown id, unreadable checkpoint, hub unreachable) or
    ``UnsupportedModelError`` (a layout the method does not cover) with the reason.
    """
    adapter = _load(model_id, random_init=random_init, seed=seed, revision=revision, overrides=overrides)
    adapter.source = ModelSource(
        id=model_id,
        random_init=random_init,
        seed=seed,
        revision=revision,
        overrides=dict(overrides or {}),
        planted=model_id == "planted",
    )
    return adapter


def _load(
    model_id: str,
    *,
    random_init: bool,
    seed: int,
    revision: str | None,
    overrides: dict[str, Any] | None,
) -> ViTAdapter:
    if model_id == "planted":
        from .planted import load_planted

        return load_planted()
    if random_init:
        torch.manual_seed(seed)
    local = Path(model_id).expanduser()
    if local.is_dir():
        return _load_local(local, model_id, random_init=random_init, overrides=overrides)
    if model_id.startswith(_TIMM_PREFIXES) or "/" not in model_id:
        from .timm_vit import load_timm

        name = model_id
        for prefix in _TIMM_PREFIXES:
            name = name.removeprefix(prefix)
        return load_timm(name, model_id=model_id, random_init=random_init, revision=revision, overrides=overrides)
    from .hf_loading import load_hf_hub

    return load_hf_hub(model_id, random_init=random_init, revision=revision, overrides=overrides)


def _load_local(directory: Path, model_id: str, *, random_init: bool, overrides: dict[str, Any] | None) -> ViTAdapter:
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"{directory} has no config.json; not a timm or Hugging Face checkpoint")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"cannot read {config_path}: {error}") from error
    if "architecture" in config:
        from .timm_vit import load_timm_directory

        return load_timm_directory(directory, config, model_id=model_id, random_init=random_init, overrides=overrides)
    if "model_type" in config:
        from .hf_loading import load_hf_directory

        return load_hf_directory(directory, model_id=model_id, random_init=random_init, overrides=overrides)
    raise ModelLoadError(f"{config_path} has neither 'architecture' (timm) nor 'model_type' (Hugging Face)")


def model_source(adapter: ViTAdapter) -> ModelSource:
    """What ``load_model_from_source`` needs to rebuild ``adapter``'s weights (recorded at load)."""
    if adapter.source is None:
        raise ValueError("this adapter was not created by load_model; its source is unknown")
    return adapter.source


def load_model_from_source(source: ModelSource) -> ViTAdapter:
    """Rebuild a model from its recorded source (e.g. an atlas's ``manifest.model_source``)."""
    return load_model(
        source.id,
        random_init=source.random_init,
        seed=source.seed,
        revision=source.revision,
        overrides=source.overrides or None,
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
