"""What the API answers about an analysed upload: a head's modes and the whole model's ranked by their
contribution, a mode's maps, an attention row split into modes (from ``backend.services.analysis``)."""

from __future__ import annotations

import numpy as np

from backend.schemas import (
    AttentionSplit,
    Basis,
    ModeContribution,
    ModelRankedMode,
    ModeMaps,
    RankedMode,
    ScoreStanding,
    Sign,
    UploadHeadModes,
    UploadModelModes,
    UploadModeStanding,
)
from backend.services.analysis.codec import AttentionRow, HeadAnalysis, ModelScores
from backend.services.mode_views import mode_scale
from backend.services.overlays import mode_maps, own_scale_unless
from backend.services.uploads import UploadInfo
from qkatlas.analysis import rank_by_contribution
from qkatlas.atlas import Atlas
from qkatlas.atlas.evidence import fires, is_evidence
from qkatlas.atlas.standing import STANDING_RULE, standing
from qkatlas.atlas.statistics import NOT_COMPUTED, SignedMode
from qkatlas.conventions import SIGNS
from qkatlas.render import MapScale

CONTRIBUTION_RULE = (
    "C_n = σ_n · max(pos score, neg score) per (layer, head): qkatlas's reconstruction of the "
    "paper's 'contribution to the attention score', which the paper does not define"
)


def _stronger_sign(pos_neg: np.ndarray) -> Sign:
    return Sign.pos if pos_neg[0] >= pos_neg[1] else Sign.neg


def head_modes(
    upload: UploadInfo, atlas: Atlas, layer: int, head: int, basis: Basis, analysis: HeadAnalysis
) -> UploadHeadModes:
    scores, contribution = analysis.scores[basis], analysis.contribution[basis]
    sigma, cos, degenerate = atlas.sigma(layer, head), atlas.cos(layer, head), atlas.degenerate(layer, head)
    active = atlas.active(layer, head)
    signs = [_stronger_sign(pos_neg) for pos_neg in scores]
    return UploadHeadModes(
        upload_id=upload.id,
        model=atlas.slug,
        revision=atlas.revision,
        layer=layer,
        head=head,
        basis=basis,
        contribution_rule=CONTRIBUTION_RULE,
        modes=[
            RankedMode(
                rank=rank,
                mode=int(mode),
                sigma=float(sigma[mode]),
                cos=float(cos[mode]),
                degenerate=bool(degenerate[mode]),
                active=bool(active[mode]),
                pos_score=float(scores[mode, 0]),
                neg_score=float(scores[mode, 1]),
                sign=signs[mode],
                contribution=float(contribution[mode]),
                never_fires=atlas.never_fires(basis, layer, head, int(mode), signs[mode]),
            )
            for rank, (mode,) in enumerate(rank_by_contribution(contribution, active))
        ],
        key_salience=analysis.key_salience.astype(np.float32).tolist(),
    )


def model_modes(
    upload: UploadInfo, atlas: Atlas, basis: Basis, model_scores: ModelScores, limit: int
) -> UploadModelModes:
    """The model's ``limit`` modes (every layer and head) contributing most to the image: the same
    analysis and the same rule as a head's ranking, over the whole model. Only modes that contribute
    are listed: the stronger sign's score must be above its layer's noise floor
    (docs/method.md#evidence-and-firing), so the list is never padded with contributions of 0."""
    scores, contribution = model_scores.scores[basis], model_scores.contribution[basis]
    active = atlas.active_all
    floors = np.array([atlas.noise_floor(basis, layer) for layer in range(atlas.n_layers)])
    contributes = active & is_evidence(scores.max(axis=-1), floors[:, None, None])
    # The ranking lists the candidates first.
    top = rank_by_contribution(contribution, contributes)[: min(limit, int(contributes.sum()))]
    signs = {(layer, head, mode): _stronger_sign(scores[layer, head, mode]) for layer, head, mode in top}
    return UploadModelModes(
        upload_id=upload.id,
        model=atlas.slug,
        revision=atlas.revision,
        basis=basis,
        contribution_rule=CONTRIBUTION_RULE,
        n_modes_total=int(active.sum()),
        modes=[
            ModelRankedMode(
                rank=rank,
                layer=int(layer),
                head=int(head),
                mode=int(mode),
                sign=signs[layer, head, mode],
                sigma=float(atlas.sigma_all[layer, head, mode]),
                cos=float(atlas.cos_all[layer, head, mode]),
                degenerate=bool(atlas.degenerate_all[layer, head, mode]),
                pos_score=float(scores[layer, head, mode, 0]),
                neg_score=float(scores[layer, head, mode, 1]),
                contribution=float(contribution[layer, head, mode]),
                never_fires=atlas.never_fires(basis, int(layer), int(head), int(mode), signs[layer, head, mode]),
            )
            for rank, (layer, head, mode) in enumerate(top)
        ],
    )


def signed_maps(analysis: HeadAnalysis, basis: Basis, mode: int, sign: Sign) -> tuple[np.ndarray, np.ndarray]:
    """The query and key maps of the signed mode, as float32."""
    query = analysis.query[basis][mode].astype(np.float32)
    key = analysis.key[basis][mode].astype(np.float32)
    # Stored maps are those of the pos mode (u, v); the neg mode (−u, −v) has the negated maps.
    return (query, key) if sign == Sign.pos else (-query, -key)


def analysed_mode_maps(
    analysis: HeadAnalysis, atlas: Atlas, basis: Basis, mode: SignedMode
) -> tuple[np.ndarray, np.ndarray, MapScale]:
    """The signed mode's maps on an analysed image (an upload, or any dataset image) and the scale they are drawn
    on: the mode's own over its top images (so the image compares with them; a value above it saturates), or the
    image's maxima where the mode lists no top image."""
    query, key = signed_maps(analysis, basis, mode.mode, mode.sign)
    return query, key, own_scale_unless(mode_scale(atlas, basis, mode), query, key)


def upload_mode_maps(analysis: HeadAnalysis, atlas: Atlas, basis: Basis, mode: SignedMode) -> ModeMaps:
    query, key, scale = analysed_mode_maps(analysis, atlas, basis, mode)
    return mode_maps(query, key, atlas.image_size, scale)


def score_standing(atlas: Atlas, basis: Basis, mode: SignedMode, score: float) -> ScoreStanding | str:
    """Where ``score`` falls in the signed mode's stored dataset distribution, or why it cannot be said."""
    statistics = atlas.statistics
    if statistics is None:
        return f"no distribution stored: {NOT_COMPUTED}"
    if not atlas.active(mode.layer, mode.head)[mode.mode]:
        return "the mode is inactive: every image scores 0 on it"
    distribution = statistics.distribution(atlas.basis_axis(basis), mode)
    if distribution.count == 0:
        return "no image of the dataset was scored"
    if not np.isfinite(score):
        return "the image's score is not a finite number"
    top = [s for _, s in atlas.top_images(basis, mode.layer, mode.head, mode.mode, mode.sign)]
    found = standing(score, distribution, np.asarray(top, dtype=np.float32), atlas.top_k)
    low, high = found.percentile_range
    return ScoreStanding(
        count=found.count,
        below_at_least=found.below_at_least,
        below_at_most=found.below_at_most,
        exact=found.exact,
        percentile_low=low,
        percentile_high=high,
        top_k_rank=found.top_k_rank,
        top_k=found.top_k,
        rule=STANDING_RULE,
    )


def upload_mode_standing(
    upload: UploadInfo, atlas: Atlas, mode: SignedMode, basis: Basis, analysis: HeadAnalysis
) -> UploadModeStanding:
    """The upload's score for the signed mode, whether it fires, and the score's standing in the dataset."""
    score = float(analysis.scores[basis][mode.mode, SIGNS.index(mode.sign)])
    found = score_standing(atlas, basis, mode, score)
    return UploadModeStanding(
        upload_id=upload.id,
        model=atlas.slug,
        revision=atlas.revision,
        layer=mode.layer,
        head=mode.head,
        mode=mode.mode,
        sign=mode.sign,
        basis=basis,
        score=score,
        fires=fires(*signed_maps(analysis, basis, mode.mode, mode.sign)),
        standing=found if isinstance(found, ScoreStanding) else None,
        standing_missing=found if isinstance(found, str) else None,
    )


def attention_split(
    upload: UploadInfo, atlas: Atlas, layer: int, head: int, query_patch: int, row: AttentionRow
) -> AttentionSplit:
    prefix_kinds: list[str] = list(atlas.manifest.model.prefix_kinds)
    return AttentionSplit(
        upload_id=upload.id,
        model=atlas.slug,
        layer=layer,
        head=head,
        query_patch=query_patch,
        grid=atlas.grid,
        prefix_kinds=prefix_kinds,
        attention=row.attention.tolist(),
        patch_attention=row.attention[len(prefix_kinds) :].reshape(atlas.grid, atlas.grid).tolist(),
        reconstructed=row.reconstructed.tolist(),
        key_term=row.key_term.tolist(),
        modes=[ModeContribution(mode=n, logits=logits.tolist()) for n, logits in enumerate(row.mode_logits)],
    )
