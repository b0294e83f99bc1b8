"""Before a job streams: every model loaded and decomposed (so that one that cannot be loaded stops
the job before any work), their atlases' names, and which atlases an earlier run already finished."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from precompute.job_config import JobConfig
from qkatlas.atlas import format as fmt
from qkatlas.atlas import published_manifest
from qkatlas.atlas.contract import AtlasManifest
from qkatlas.device import Precision
from qkatlas.errors import ActionableError
from qkatlas.images import ImageSource
from qkatlas.models import ModelLoadError, load_model, model_slug, model_source
from qkatlas.models.base import UnsupportedModelError, ViTAdapter
from qkatlas.models.hub import HubUnavailableError
from qkatlas.svd import Decomposition, decompose


class JobSetupError(ActionableError, RuntimeError):
    """The job cannot start (a model cannot be loaded, two models would share an atlas, ...)."""


@dataclass
class LoadedModel:
    """A model loaded (on the host) and decomposed, before its group streams."""

    model_id: str
    slug: str
    adapter: ViTAdapter
    dec: Decomposition


def atlas_slugs(models: Sequence[str], dataset: str) -> list[str]:
    """The atlas slug of every model; two models that would write the same atlas are an error."""
    slugs = [fmt.atlas_slug(model_slug(model_id), dataset) for model_id in models]
    seen: dict[str, str] = {}
    for model_id, slug in zip(models, slugs, strict=True):
        if slug in seen:
            raise JobSetupError(f"{seen[slug]!r} and {model_id!r} would both write the atlas {slug}; give each once")
        seen[slug] = model_id
    return slugs


def load_all(
    config: JobConfig, slugs: Sequence[str], log: Callable[[str], None]
) -> tuple[list[LoadedModel], dict[str, str]]:
    """Load and decompose every model (on the host). Returns the loaded ones and, with
    ``skip_unloadable``, why the others failed; without it the first failure stops the job."""
    loaded, failed = [], {}
    for number, (model_id, slug) in enumerate(zip(config.models, slugs, strict=True), 1):
        log(f"loading model {number}/{len(config.models)}: {model_id}")
        try:
            adapter = load_model(
                model_id,
                random_init=config.random_init,
                seed=config.seed,
                revision=config.revision,
                overrides=config.overrides or None,
            )
            adapter.module.eval()
            dec = decompose(adapter.weights())
        except (ModelLoadError, UnsupportedModelError, ValueError, RuntimeError, OSError) as error:
            if not config.skip_unloadable:
                others = " (nothing was computed; --skip-unloadable builds the others)" if len(slugs) > 1 else ""
                what = str(error) if isinstance(error, HubUnavailableError) else f"cannot load {model_id}: {error}"
                raise JobSetupError(f"{what}{others}") from error
            failed[model_id] = str(error)
            log(f"skipping {model_id}: {error}")
            continue
        loaded.append(LoadedModel(model_id, slug, adapter, dec))
    return loaded, failed


def finished_atlas(
    config: JobConfig, model: LoadedModel, source: ImageSource, precision: Precision
) -> AtlasManifest | None:
    """The manifest of ``model``'s published atlas when an earlier run of this job finished it (same
    weights, images, K, bases and ``precision``, and statistics and effects when they are asked for),
    else ``None``."""
    manifest = published_manifest(config.out / model.slug)
    if manifest is None:
        return None
    same = (
        manifest.model_source.same_weights(model_source(model.adapter))
        and manifest.dataset.source == str(source.root)
        and manifest.dataset.n_images == len(source.items)
        and manifest.top_k == config.top_k
        and tuple(manifest.bases) == config.bases
        and manifest.run.precision == precision
        and (manifest.statistics is not None or not config.statistics)
        and (manifest.effects.computed or not config.effects)
    )
    return manifest if same else None
