"""What the API answers about a served model: its summary and detail, one head's modes, a page of its
mode index. Everything comes from the atlas; no model is run."""

from __future__ import annotations

import math

from backend.schemas import (
    Basis,
    DatasetInfo,
    HeadDetail,
    ImageRef,
    LayerSummary,
    ModeIndexPage,
    ModelDetail,
    ModelSummary,
    ModeSortKey,
    ModeSummary,
    PreprocessingInfo,
    Sign,
    SignFlags,
    SignImages,
    SignScores,
    SortOrder,
    Spectra,
    StatisticsAvailability,
)
from backend.services.atlases import image_id, thumbnail_url
from backend.services.mode_index import IndexPage
from qkatlas.atlas import Atlas
from qkatlas.atlas.effects import EFFECTS_NOT_COMPUTED
from qkatlas.atlas.statistics import NOT_COMPUTED
from qkatlas.images.preprocessing import Preprocessing


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN: a missing score (no image in the top-K) is null."""
    return float(value) if math.isfinite(value) else None


def model_summary(atlas: Atlas, *, has_o3: bool) -> ModelSummary:
    model, dataset = atlas.manifest.model, atlas.manifest.dataset
    return ModelSummary(
        slug=atlas.slug,
        revision=atlas.revision,
        model_slug=atlas.model_slug,
        model_id=atlas.model_id,
        weights_revision=model.revision,
        family=model.family,
        n_layers=atlas.n_layers,
        n_heads=atlas.n_heads,
        n_modes=atlas.n_modes,
        d_model=model.d_model,
        d_head=model.d_head,
        patch_size=model.patch_size,
        image_size=atlas.image_size,
        grid=atlas.grid,
        prefix_kinds=list(model.prefix_kinds),
        top_k=atlas.top_k,
        bases=list(atlas.bases),
        dataset=DatasetInfo(name=dataset.name, n_images=dataset.n_images, n_skipped=dataset.n_skipped),
        random_init=model.random_init,
        precision=atlas.manifest.run.precision,
        planted=atlas.manifest.model_source.planted,
        planted_modes=list(model.planted_modes),
        preprocessing=_preprocessing(atlas.manifest.preprocessing),
        statistics=StatisticsAvailability(
            computed=atlas.statistics is not None,
            n_classes=len(atlas.statistics.classes) if atlas.statistics is not None else 0,
            note=None if atlas.statistics is not None else NOT_COMPUTED,
        ),
        has_o3=has_o3,
    )


def _preprocessing(prep: Preprocessing) -> PreprocessingInfo:
    return PreprocessingInfo(
        resize=prep.resize,
        crop=prep.crop,
        resize_mode=prep.resize_mode,
        interpolation=prep.interpolation,
        mean=list(prep.mean),
        std=list(prep.std),
        description=prep.describe(),
    )


def _best_image(atlas: Atlas, basis: Basis, layer: int, head: int, mode: int, sign: Sign) -> ImageRef | None:
    """The signed mode's best image when it is evidence (no image otherwise: the mode page lists none)."""
    winners = atlas.evidence(basis, layer, head, mode, sign).winners
    if not winners:
        return None
    index = winners[0].dataset_index
    return ImageRef(image_id=image_id(atlas, index), thumbnail_url=thumbnail_url(atlas, index))


def model_detail(atlas: Atlas, *, has_o3: bool) -> ModelDetail:
    summary = atlas.summary
    layers = [
        LayerSummary(
            layer=layer,
            normalized_depth=summary.normalized_depth[layer],
            weighted_cos=summary.layer_weighted_cos[layer],
            unweighted_cos=summary.layer_unweighted_cos[layer],
            weighted_cos_scaled=summary.layer_weighted_cos_scaled[layer],
        )
        for layer in range(atlas.n_layers)
    ]
    return ModelDetail(
        **dict(model_summary(atlas, has_o3=has_o3)),
        layers=layers,
        head_weighted_cos=summary.head_weighted_cos,
        baseline_95=summary.baseline_95,
        spectra=Spectra(
            sigma=atlas.sigma_all.tolist(),
            cos=atlas.cos_all.tolist(),
            degenerate=atlas.degenerate_all.tolist(),
            active=atlas.active_all.tolist(),
        ),
    )


def _never_fires(atlas: Atlas, basis: Basis, layer: int, head: int, mode: int) -> SignFlags | None:
    pos = atlas.never_fires(basis, layer, head, mode, Sign.pos)
    neg = atlas.never_fires(basis, layer, head, mode, Sign.neg)
    return None if pos is None or neg is None else SignFlags(pos=pos, neg=neg)


def head_detail(atlas: Atlas, layer: int, head: int, basis: Basis) -> HeadDetail:
    sigma, cos, degenerate = atlas.sigma(layer, head), atlas.cos(layer, head), atlas.degenerate(layer, head)
    active = atlas.active(layer, head)
    best = atlas.best_scores(basis, layer, head)
    effect_means = atlas.effects.means()[layer, head] if atlas.effects is not None else None
    return HeadDetail(
        model=atlas.slug,
        layer=layer,
        head=head,
        basis=basis,
        weighted_cos=atlas.summary.head_weighted_cos[layer][head],
        active=bool(active.any()),
        modes=[
            ModeSummary(
                mode=mode,
                sigma=float(sigma[mode]),
                cos=float(cos[mode]),
                degenerate=bool(degenerate[mode]),
                active=bool(active[mode]),
                best_score=SignScores(pos=_finite_or_none(best[mode, 0]), neg=_finite_or_none(best[mode, 1])),
                best_image=SignImages(
                    pos=_best_image(atlas, basis, layer, head, mode, Sign.pos),
                    neg=_best_image(atlas, basis, layer, head, mode, Sign.neg),
                ),
                never_fires=_never_fires(atlas, basis, layer, head, mode),
                effect_mean=float(effect_means[mode]) if effect_means is not None else None,
            )
            for mode in range(atlas.n_modes)
        ],
        effects_missing=None if atlas.effects is not None else EFFECTS_NOT_COMPUTED,
    )


def mode_index_page(
    atlas: Atlas, basis: Basis, page: IndexPage, *, sort: ModeSortKey, order: SortOrder, offset: int
) -> ModeIndexPage:
    return ModeIndexPage(
        model=atlas.slug,
        basis=basis,
        sort=sort,
        order=order,
        total=page.total,
        n_modes=page.n_modes,
        offset=offset,
        rows=page.rows,
        statistics_missing=page.statistics_missing,
        effects_missing=page.effects_missing,
    )
