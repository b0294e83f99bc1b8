"""Response models of the HTTP API.

These classes *are* the OpenAPI schema (``backend/openapi.json``) from which the dashboard's
TypeScript client is generated, so their names and field docs are part of the public interface.
Indices are 0-based everywhere (docs/method.md#conventions); arrays over the patch grid are row-major
``[T][T]``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

# Part of the API schema, defined by the library (re-exported here): the basis and sign of a mode
# (qkatlas.conventions), a photo's resize (qkatlas.images.preprocessing), a planted mode as the atlas
# manifest lists it (qkatlas.models.base), a precompute job's progress report (qkatlas.progress, which
# the job writes) and the overlay options (qkatlas.render).
from qkatlas.conventions import Basis as Basis
from qkatlas.conventions import Sign as Sign
from qkatlas.images.preprocessing import Interpolation as Interpolation
from qkatlas.images.preprocessing import ResizeMode as ResizeMode
from qkatlas.models.base import PlantedMode as PlantedMode
from qkatlas.progress import PrecomputeJob as PrecomputeJob
from qkatlas.render import Channel as Channel
from qkatlas.render import Palette as Palette


class RedisState(StrEnum):
    ok = "ok"
    unavailable = "unavailable"
    not_configured = "not_configured"


class ErrorBody(BaseModel):
    """Every non-validation error: a human-readable message (never a path or a traceback)."""

    detail: str


# --- health -----------------------------------------------------------------------------------


class AtlasFailure(BaseModel):
    directory: str = Field(description="Name of the atlas directory under the atlas root.")
    reason: str


class AnalysisBound(BaseModel):
    """The bound on upload analyses in force (beyond it: 503 with `Retry-After`)."""

    scope: Literal["deployment", "process"] = Field(
        description="`deployment`: across every worker process and replica sharing Redis; `process`: each worker "
        "process on its own (no Redis configured, or Redis unreachable)."
    )
    size: int = Field(description="Analyses running or waiting at most, in that scope.")
    running: int = Field(description="Analyses running or waiting now, in that scope.")


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="`degraded` when a configured Redis is unreachable or an atlas failed to load."
    )
    version: str
    device: str = Field(description="Where upload analysis runs: `cpu` or `cuda`/`cuda:N`.")
    redis: RedisState
    atlases: list[str] = Field(description="Slugs of the atlases being served.")
    failed_atlases: list[AtlasFailure]
    analysis: AnalysisBound


# --- precompute progress ----------------------------------------------------------------------


class PrecomputeProgress(BaseModel):
    redis: RedisState = Field(description="Jobs report through Redis; without it the list is always empty.")
    jobs: list[PrecomputeJob]


# --- models (atlases) -------------------------------------------------------------------------

ACTIVE_MODE = (
    "σ > 0: the mode contributes to attention. An inactive mode (σ = 0: its head's W_q or W_k is zero or "
    "rank-deficient) has zero u, v and cos (docs/method.md#inactive-modes)."
)


class DatasetInfo(BaseModel):
    name: str
    n_images: int
    n_skipped: int


class StatisticsAvailability(BaseModel):
    computed: bool = Field(description="The atlas has per-mode statistics (format 2, built without --no-statistics).")
    n_classes: int = Field(description="Class labels of the dataset (0: no labels, so no class views).")
    note: str | None = Field(description="Why there are none, and how to add them; null when computed.")


class PreprocessingInfo(BaseModel):
    """How the model turns a photo into its input (an atlas's thumbnails and an upload's model image show the
    result)."""

    resize: int = Field(description="Target size of the resize, in pixels (see `resize_mode`).")
    crop: int = Field(description="Side of the centre crop the model sees, in pixels (= `image_size`).")
    resize_mode: ResizeMode = Field(
        description="`shortest`: the shorter side becomes `resize` px, aspect kept; `exact`: both sides become "
        "`resize` px, aspect not kept."
    )
    interpolation: Interpolation
    mean: list[float] = Field(description="Per-channel mean subtracted from pixels in [0, 1].")
    std: list[float] = Field(description="Per-channel standard deviation the pixels are divided by.")
    description: str = Field(
        description="The geometry in one phrase, e.g. 'resized so its shorter side is 256 px (bicubic), then the "
        "centre 224 × 224 px cropped'."
    )


class ModelSummary(BaseModel):
    """One served atlas: a model and the dataset searched for its top images."""

    slug: str = Field(description="URL-safe id of the atlas (`<model_slug>__<dataset>`); the `{model}` path key.")
    revision: str = Field(
        description="Identity of this build of the atlas (changes when it is rebuilt); the `v` parameter of its "
        "cacheable addresses."
    )
    model_slug: str = Field(description="URL-safe id of the model alone.")
    model_id: str = Field(description="The original model id (hub id, timm name or checkpoint).")
    weights_revision: str | None = Field(
        description="The revision of the weights the atlas was built from (hub commit, tag or branch); null when "
        "the build did not record one."
    )
    family: str
    n_layers: int
    n_heads: int
    n_modes: int = Field(description="Modes per head (= d_head).")
    d_model: int
    d_head: int
    patch_size: int
    image_size: int = Field(description="Side of the crop the model sees, in pixels.")
    grid: int = Field(description="Patches per side, T = image_size / patch_size.")
    prefix_kinds: list[str] = Field(description="Non-patch tokens before the patches (`cls`, ...).")
    top_k: int
    bases: list[Basis]
    dataset: DatasetInfo
    random_init: bool = Field(description="The weights are random (a test or demo atlas).")
    precision: Literal["bf16", "tf32", "fp32"] | None = Field(
        description="How the job computed the scores (--precision): bf16, tf32 or fp32; null when the atlas did not "
        "record it.",
    )
    planted: bool = Field(description="The hand-set planted-mode demo model (modes respond to known colours).")
    planted_modes: list[PlantedMode] = Field(
        description="The planted model's hand-set modes: where they are, and what their pages should show; empty "
        "for every other model (and for planted atlases built before the manifest listed them)."
    )
    preprocessing: PreprocessingInfo
    statistics: StatisticsAvailability = Field(
        description="Whether the atlas has per-mode statistics (mode index values, distributions, class search)."
    )
    has_o3: bool = Field(description="Odd-One-Out results exist for this model (`GET /api/models/{model}/o3`).")


class LayerSummary(BaseModel):
    layer: int
    normalized_depth: float = Field(description="layer / (n_layers − 1).")
    weighted_cos: float | None = Field(
        description="Mean over the layer's active heads of the σ-weighted cosine Σ (σ_n/Σσ) cos_n; "
        "null when no head of the layer is active."
    )
    unweighted_cos: float | None = Field(description="Mean of cos_n over the layer's active modes; null if none.")
    weighted_cos_scaled: float | None = Field(
        description="The paper's released-code variant: weighted cosine divided by d_head; null where it is null."
    )


class Spectra(BaseModel):
    sigma: list[list[list[float]]] = Field(description="σ of every mode, [layer][head][mode].")
    cos: list[list[list[float]]] = Field(description="u·v of every mode, [layer][head][mode].")
    degenerate: list[list[list[bool]]] = Field(
        description="σ within 1e-3 (relative) of a neighbour: the mode's vectors are not unique."
    )
    active: list[list[list[bool]]] = Field(description=ACTIVE_MODE)


class ModelDetail(ModelSummary):
    layers: list[LayerSummary]
    head_weighted_cos: list[list[float | None]] = Field(
        description="σ-weighted cosine per head, [layer][head]; null for an inactive head (no active mode)."
    )
    baseline_95: float = Field(description="Random directions' 95 % cosine band is ±this (1.96/√d).")
    spectra: Spectra


# --- Odd-One-Out attention preference (paper Fig. 2) --------------------------------------------


class O3Shares(BaseModel):
    """Where a query's attention goes; the three shares of one attention row sum to 1."""

    same_object: float = Field(description="On the query's own kind of object (target for the target query).")
    different_object: float = Field(description="On the other kind of object.")
    background: float = Field(description="Neither object.")


class O3QueryLayer(BaseModel):
    """One query's attention split in one layer."""

    mean: O3Shares = Field(description="Mean over images and heads.")
    std: O3Shares = Field(description="Spread: standard deviation over images of the head-averaged shares.")
    heads: list[O3Shares] | None = Field(description="Mean over images per head, [head]; null if not stored.")


class O3Layer(BaseModel):
    layer: int
    normalized_depth: float = Field(description="layer / (n_layers − 1).")
    target_query: O3QueryLayer = Field(description="The query patch best covered by the singleton target.")
    distractor_query: O3QueryLayer = Field(description="The query patch best covered by the distractors.")


class O3Chance(BaseModel):
    """What uniform attention would give: the mean area share of each region (drawn dashed)."""

    target_query: O3Shares
    distractor_query: O3Shares


class O3Dataset(BaseModel):
    name: str = Field(description="Name of the O3 folder the results were computed from.")
    n_images: int
    n_used: int
    n_skipped: int = Field(description="Examples left out (missing, unreadable or empty masks).")


class O3Result(BaseModel):
    """Odd-One-Out attention preference of the atlas's model, from its real attention
    (docs/method.md#odd-one-out-analysis).

    The per-image list of ``o3.json`` (query positions and areas of every example, thousands of
    entries for the full O3 set) is not served: the curves need only the per-layer and per-head means.
    """

    model: str = Field(description="Atlas slug.")
    model_id: str
    n_layers: int
    n_heads: int
    dataset: O3Dataset
    definitions: dict[str, str] = Field(description="The rules of the analysis, as text.")
    chance: O3Chance
    layers: list[O3Layer]


class SignScores(BaseModel):
    pos: float | None = Field(description="Best attention score among the top images; null if none.")
    neg: float | None


class ImageRef(BaseModel):
    image_id: str = Field(description="Global image id, `<atlas slug>~<dataset index>`.")
    thumbnail_url: str = Field(description="The image as the model saw it (JPEG).")


class SignImages(BaseModel):
    pos: ImageRef | None = Field(description="The mode's best image for this sign; null if none.")
    neg: ImageRef | None


class SignFlags(BaseModel):
    pos: bool
    neg: bool


NEVER_FIRES = (
    "The signed mode fires on no image of the dataset (its query and key maps never both peak above 0): every "
    "positive score it has is the quirk's product of two negative maxima. Null when the atlas has no statistics "
    "or the mode is inactive."
)


class ModeSummary(BaseModel):
    mode: int
    sigma: float
    cos: float
    degenerate: bool
    active: bool = Field(description=ACTIVE_MODE)
    best_score: SignScores
    best_image: SignImages = Field(
        description="Each sign's best image when it is evidence (docs/method.md#evidence-and-firing); null if none."
    )
    never_fires: SignFlags | None = Field(description=NEVER_FIRES)
    effect_mean: float | None = Field(
        default=None,
        description="Mean attention moved by the mode over the dataset, in [0, 1] (docs/method.md#attention-moved-by-"
        "a-mode); null when the atlas did not measure it.",
    )


class HeadDetail(BaseModel):
    model: str
    layer: int
    head: int
    basis: Basis
    weighted_cos: float | None = Field(description="σ-weighted cosine of the head; null when it is inactive.")
    active: bool = Field(
        description="The head has an active mode. False when its W_q or W_k is zero (a pruned or dead head)."
    )
    modes: list[ModeSummary]
    effects_missing: str | None = Field(
        default=None, description="Why the modes' `effect_mean` is null; null when it is not."
    )


class TopImage(BaseModel):
    rank: int = Field(description="0 = the image that excites the mode most.")
    image_id: str = Field(description="Global image id, `<atlas slug>~<dataset index>`.")
    dataset_index: int
    score: float = Field(description="Attention score (paper rule: max P_U · max P_V for pos).")
    fires: bool = Field(
        description="Its query map and key map both peak above 0. False: the score is the quirk's product of two "
        "negative maxima, so the image does not excite the mode although the paper's rule ranks it."
    )
    label: str | None = Field(description="Class label when the dataset has one.")
    source: str = Field(description="The image's file name in the dataset.")
    thumbnail_url: str = Field(description="The image as the model saw it (JPEG).")
    overlay_url: str = Field(description="Query/key overlay PNG; accepts the overlay query options.")
    maps_url: str = Field(description="Raw query/key maps as JSON.")


class CutoffTie(BaseModel):
    """The last places of a signed mode's top-K that tie with the best image left out of it at the atlas's
    precision: their order against it, and among themselves, is not meaningful (docs/method.md#ties-at-the-cut-off)."""

    first_rank: int = Field(
        description="The first tied place (0 = best); it and every place after it, up to the K-th, tie."
    )
    last_rank: int = Field(description="The K-th place (K − 1).")
    next_score: float = Field(description="The best score left out of the top-K (the (K+1)-th).")
    precision: Literal["bf16", "tf32", "fp32"] | None = Field(
        description="The precision the scores were computed in; null when the atlas did not record it."
    )
    epsilon: float = Field(description="The relative rounding ε of a score at that precision.")
    rule: str = Field(description="When two scores tie, in words.")


class ScoreDistribution(BaseModel):
    """A signed mode's attention score over every scored image of the dataset (docs/method.md#per-mode-statistics)."""

    count: int = Field(description="Images scored.")
    firing: int = Field(description="Images on which the mode fires: its query and key maps both peak above 0.")
    never_fires: bool = Field(
        description="No image makes both maps peak above 0: every positive score is the quirk's product of two "
        "negative maxima."
    )
    mean: float
    std: float = Field(description="Population standard deviation over the scored images.")
    minimum: float
    maximum: float
    edges: list[float] = Field(description="n_bins + 1 bin edges, ascending.")
    counts: list[int] = Field(
        description="n_bins + 2 counts: scores below edges[0] (down to `minimum`), each bin, and scores from the "
        "last edge on (up to `maximum`)."
    )
    binning: str = Field(description="How the bins were fixed (the same rule for every mode).")


class DatasetImageRef(BaseModel):
    """A dataset image of the atlas, as a list of a mode's images names it."""

    image_id: str = Field(description="Global image id, `<atlas slug>~<dataset index>`.")
    dataset_index: int
    label: str | None = Field(description="Class label when the dataset has one.")
    source: str = Field(description="The image's file name in the dataset.")
    thumbnail_url: str = Field(description="The image as the model saw it (JPEG).")


class SampledImage(DatasetImageRef):
    """One image sampled in a band of a mode's score range."""

    score: float = Field(description="Its attention score for the signed mode.")
    fires: bool = Field(description="Its query map and key map both peak above 0.")


class DistributionBand(BaseModel):
    """One band of a signed mode's score range and the images sampled in it."""

    band: int = Field(description="0 = the lowest scores.")
    low: float = Field(description="Lowest score of the band (the first band starts at the mode's minimum).")
    high: float = Field(description="Where the band ends (the last band ends at the mode's maximum, included).")
    first_bin: int = Field(description="The band's first histogram bin (index into `edges` of the distribution).")
    n_bins: int = Field(description="Histogram bins in the band.")
    count: int = Field(description="Dataset images whose score falls in the band.")
    images: list[SampledImage] = Field(description="The images sampled in the band (up to `per_band`), in key order.")


class ModeSamples(BaseModel):
    """Images across a signed mode's whole score distribution, a few from each band
    (docs/method.md#samples-across-the-distribution)."""

    model: str
    layer: int
    head: int
    mode: int
    sign: Sign
    basis: Basis
    bands: list[DistributionBand] = Field(description="Lowest scores first; empty when `samples_missing` is set.")
    per_band: int = Field(description="Images kept per band (0 without samples).")
    rule: str | None = Field(description="How the bands are cut and the images chosen, in words.")
    samples_missing: str | None = Field(description="Why there are no samples (an atlas built before them); else null.")


class ClassScoreOut(BaseModel):
    class_id: int
    label: str
    mean: float = Field(description="Mean score of the class's images for this mode.")
    selectivity: float = Field(
        description="(class mean − mean) / std: how many standard deviations above the mode's mean."
    )
    n_images: int = Field(description="Scored images of the class.")


class LabelCount(BaseModel):
    label: str
    count: int


class ClassProfile(BaseModel):
    top_classes: list[ClassScoreOut] = Field(description="The most selective classes, best first.")
    top_k_labels: list[LabelCount] = Field(description="Class labels among the mode's top images, most frequent first.")
    selectivity_rule: str


class MapScaleOut(BaseModel):
    """The map values drawn at full colour, shared by every image of a signed mode (docs/method.md#rendering):
    a value x is drawn at intensity clip(x / scale, 0, 1)."""

    query: float = Field(description="The largest query-map value over the mode's listed top images (≥ 0).")
    key: float = Field(description="The largest key-map value over the mode's listed top images (≥ 0).")


class PatchOut(BaseModel):
    """A patch of the grid, 0-based from the top left."""

    row: int
    column: int


class EffectImage(DatasetImageRef):
    """One of the images on which removing a mode moves the most attention."""

    effect: float = Field(description="Attention moved on this image, in [0, 1].")


class ModeEffect(BaseModel):
    """The attention moved by a mode over every scored image (docs/method.md#attention-moved-by-a-mode): per
    image, the mean over patch queries of ½ Σ_j |A_ij − A⁻ⁿ_ij|, A the head's attention and A⁻ⁿ the attention
    without the mode's logits. One value per mode: both signs share it."""

    count: int = Field(description="Images measured.")
    mean: float = Field(description="Mean attention moved, in [0, 1].")
    std: float = Field(description="Population standard deviation over the images.")
    minimum: float
    maximum: float
    edges: list[float] = Field(description="n_bins + 1 bin edges, ascending.")
    counts: list[int] = Field(
        description="n_bins + 2 counts: effects below edges[0] (down to `minimum`), each bin, and effects from the "
        "last edge on (up to `maximum`)."
    )
    binning: str = Field(description="How the bins were fixed (the same rule for every mode).")
    definition: str = Field(description="What the effect is, in words.")
    top_images: list[EffectImage] = Field(
        description="The images with the largest effect, largest first (ties by lower index); only images on which "
        "the mode moves some attention."
    )


class ModeDetail(BaseModel):
    model: str
    layer: int
    head: int
    mode: int
    sign: Sign
    basis: Basis
    sigma: float
    sigma_fraction: float = Field(description="σ_n / Σ_m σ_m within the head.")
    cos: float
    degenerate: bool
    active: bool = Field(description=ACTIVE_MODE + " An inactive mode has no top images.")
    top_images: list[TopImage] = Field(
        description="The top-K winners that are evidence (score above the noise floor), best first; empty when no "
        "image of the dataset excites the mode."
    )
    left_out: int = Field(
        description="Filled top-K slots left out of `top_images` because their score is not above the noise floor."
    )
    evidence_rule: str = Field(description="Which top images are listed, and when one fires.")
    distribution: ScoreDistribution | None = Field(
        description="The score over every image of the dataset; null when the atlas has no statistics "
        "(`statistics_missing` says why)."
    )
    class_profile: ClassProfile | None = Field(
        description="Classes this mode prefers; null without statistics or when the dataset has no class labels."
    )
    statistics_missing: str | None = Field(
        description="Why `distribution` is null, for the reader; null when it is not."
    )
    effect: ModeEffect | None = Field(
        default=None, description="The attention the mode moves over the dataset; null when it was not measured."
    )
    effect_missing: str | None = Field(default=None, description="Why `effect` is null; null when it is not.")
    cutoff_tie: CutoffTie | None = Field(
        description="The last places of the top-K that tie with the next image at the atlas's precision; null when "
        "they do not (or `ties_missing` says why it is not known).",
    )
    ties_missing: str | None = Field(description="Why ties are not known; null when they are.")
    map_scale: MapScaleOut | None = Field(
        description="The one colour scale of every overlay of this signed mode (its top images' and an upload's): "
        "the largest query and key values over the listed top images; null when it lists none."
    )


class ModeMaps(BaseModel):
    """Query map P_U and key map P_V of one signed mode on one image (patch tokens, row-major)."""

    grid: int
    image_size: int
    query: list[list[float]]
    key: list[list[float]]
    scale: MapScaleOut = Field(
        description="The scale its overlay is drawn on: the mode's (`ModeDetail.map_scale`); for a mode that lists "
        "no top image, these maps' own maxima."
    )
    query_peak: PatchOut = Field(description="The query map's largest value (first in row-major order on a tie).")
    key_peak: PatchOut = Field(description="The key map's largest value: with the query peak, the score's two patches.")


class DatasetImageMaps(BaseModel):
    """One dataset image under one signed mode, computed on demand (`GET /api/models/{model}/images/{image_id}/maps`):
    its maps and score from the atlas's model run on the image again."""

    model: str = Field(description="Atlas slug.")
    revision: str = Field(description="The atlas revision the maps were computed for.")
    image_id: str = Field(description="Global image id, `<atlas slug>~<dataset index>`.")
    dataset_index: int
    label: str | None = Field(description="Class label when the dataset has one.")
    layer: int
    head: int
    mode: int
    sign: Sign
    basis: Basis
    score: float = Field(description="Attention score (paper rule: max P_U · max P_V for pos).")
    fires: bool = Field(
        description="Its query map and key map both peak above 0. False: a positive score is the quirk's product of "
        "two negative maxima (docs/method.md#evidence-and-firing)."
    )
    maps: ModeMaps
    from_original_file: bool = Field(
        description="Computed from the image's original file (true: the atlas's own maps for its top images), or "
        "from the atlas's stored crop (false: the original can no longer be read where the atlas was built)."
    )
    note: str | None = Field(description="Why the stored crop was used, and what that means; null when it was not.")


# --- uploads ----------------------------------------------------------------------------------


class Upload(BaseModel):
    id: str = Field(description="Derived from the SHA-256 of the file: the same file gets the same id.")
    width: int = Field(description="Width of the decoded image (after EXIF orientation).")
    height: int
    n_bytes: int
    expires_in_s: int = Field(description="Seconds until the upload and its results are forgotten.")


class DatasetImageUpload(BaseModel):
    """A top image of an atlas turned into an upload (`POST /api/images/{image_id}/upload`), to analyse it like
    any uploaded photo."""

    upload: Upload
    image_id: str
    label: str | None = Field(description="Class label of the image in its dataset, if it has one.")
    source: str = Field(description="The image's path within its dataset, as the atlas records it.")
    from_original_file: bool = Field(
        description="The upload is the original file (true), or the atlas's thumbnail, the crop the model saw "
        "(false: the original can no longer be read where the atlas was built, or exceeds the upload limits)."
    )
    note: str | None = Field(description="Why the thumbnail was used; null when the original file was.")


class ScoreStanding(BaseModel):
    """Where a score falls among a signed mode's scores on its dataset, from the stored statistics and top-K
    (docs/method.md#standing-in-the-distribution)."""

    count: int = Field(description="Dataset images scored.")
    below_at_least: int = Field(description="Dataset images that certainly score strictly below it.")
    below_at_most: int = Field(
        description="Dataset images that may score strictly below it: equal to `below_at_least` when the stored "
        "data decide it, larger when some share its histogram bin below the stored top-K."
    )
    exact: bool = Field(description="`below_at_least == below_at_most`.")
    percentile_low: float = Field(description="100 · below_at_least / count.")
    percentile_high: float = Field(description="100 · below_at_most / count.")
    top_k_rank: int | None = Field(
        description="0-based rank it would take in the mode's stored top-K (after dataset images with an equal "
        "score); null when it would not enter."
    )
    top_k: int = Field(description="Slots of the stored top-K (the atlas's K).")
    rule: str


class UploadModeStanding(BaseModel):
    """An upload's score for one signed mode, whether the mode fires on it, and where the score falls in the
    mode's dataset distribution."""

    upload_id: str
    model: str
    revision: str
    layer: int
    head: int
    mode: int
    sign: Sign
    basis: Basis
    score: float = Field(description="The upload's score by the ranking rule (the one the top-K ranks by).")
    fires: bool = Field(
        description="Its query map and key map both peak above 0; false: a positive score is the quirk's product "
        "of two negative maxima."
    )
    standing: ScoreStanding | None = Field(
        description="Null when the atlas stores no distribution, the mode is inactive or the score is not finite "
        "(`standing_missing` says which)."
    )
    standing_missing: str | None = Field(description="Why `standing` is null; null when it is not.")


class RankedMode(BaseModel):
    rank: int = Field(description="0 = the largest contribution; inactive modes come after every active one.")
    mode: int
    sigma: float
    cos: float
    degenerate: bool
    active: bool = Field(description=ACTIVE_MODE)
    pos_score: float
    neg_score: float
    sign: Sign = Field(description="The sign with the larger score on this image.")
    contribution: float = Field(description="C_n = σ_n · max(pos_score, neg_score).")
    never_fires: bool | None = Field(description="For `sign`: " + NEVER_FIRES)


class UploadHeadModes(BaseModel):
    """The modes of one head ranked by their contribution to this image (qkatlas's reconstruction)."""

    upload_id: str
    model: str
    revision: str = Field(description="The atlas revision the ranking was computed with (`v` of its overlays).")
    layer: int
    head: int
    basis: Basis
    contribution_rule: str = Field(description="How `contribution` is computed, and that it is ours.")
    modes: list[RankedMode]
    key_salience: list[list[float]] = Field(
        description="Exact basis: the head's key-only logit term per patch, which survives the softmax."
    )


class ModelRankedMode(BaseModel):
    """One signed mode among the whole model's, ranked by its contribution to the image."""

    rank: int = Field(description="0 = the largest contribution of any active mode in any layer and head.")
    layer: int
    head: int
    mode: int
    sign: Sign = Field(description="The sign with the larger score on this image.")
    sigma: float
    cos: float
    degenerate: bool
    pos_score: float
    neg_score: float
    contribution: float = Field(description="C_n = σ_n · max(pos_score, neg_score).")
    never_fires: bool | None = Field(description="For `sign`: " + NEVER_FIRES)


class UploadModelModes(BaseModel):
    """The modes of every layer and head of one model ranked by their contribution to this image.

    Contributions compare the modes of one model; those of different models are not on one scale.
    """

    upload_id: str
    model: str
    revision: str = Field(description="The atlas revision the ranking was computed with (`v` of its overlays).")
    basis: Basis
    contribution_rule: str = Field(description="How `contribution` is computed, and that it is ours.")
    n_modes_total: int = Field(
        description="How many modes were ranked: the model's active modes (σ > 0), every layer and head. "
        "Inactive modes never appear."
    )
    modes: list[ModelRankedMode] = Field(
        description="The first `limit` of them that contribute, largest contribution first: a mode whose stronger "
        "sign's score is not above its layer's noise floor (docs/method.md#evidence-and-firing) is left out, so the "
        "list may be shorter than `limit`."
    )


class ModeContribution(BaseModel):
    mode: int
    logits: list[float] = Field(description="σ_n P_U[i,n] P_V[j,n] / √d_h for every key token j (exact basis).")


class AttentionSplit(BaseModel):
    """The model's real attention row of one query patch, split into per-mode logit contributions.

    Exact basis (docs/method.md#edge-split-in-the-exact-basis): softmax_j(Σ_n modes[n].logits[j]) =
    `reconstructed` equals the model's own `attention` up to float error, because the logit terms
    constant in j cancel in the softmax.
    Key tokens are the prefix tokens (`prefix_kinds`) first, then the patches row-major.
    """

    upload_id: str
    model: str
    layer: int
    head: int
    query_patch: int = Field(description="Row-major index of the query patch in the grid.")
    grid: int
    prefix_kinds: list[str]
    attention: list[float] = Field(description="The model's own softmax attention over all key tokens.")
    patch_attention: list[list[float]] = Field(description="The patch part of `attention`, [T][T].")
    reconstructed: list[float] = Field(description="softmax of the summed mode logits (≈ `attention`).")
    key_term: list[float] = Field(
        description="The part of the summed mode logits that every query shares (the head's key salience)."
    )
    modes: list[ModeContribution]


# --- removing modes (docs/method.md#removing-modes) ---------------------------------------------------


class ClassChange(BaseModel):
    """One class of the model's classifier, its probability before and after the modes were removed."""

    index: int = Field(description="The classifier's output index.")
    label: str = Field(description="The class name the checkpoint gives it.")
    before: float = Field(description="Softmax probability with the model as it is.")
    after: float = Field(description="Softmax probability with the modes removed.")


class ModeAblation(BaseModel):
    """One image run twice through the atlas's model: as it is, and with modes of one head removed from that
    head's logits (σ_n P_U[i,n] P_V[j,n] / √d_h, exact basis, every query token) and every later block
    recomputed. Key tokens are the prefix tokens (`prefix_kinds`) first, then the patches row-major."""

    model: str = Field(description="Atlas slug.")
    image: str = Field(description="The upload id, or the dataset image id `<atlas slug>~<dataset index>`.")
    layer: int
    head: int
    removed: list[int] = Field(description="The modes removed, ascending (0 = largest σ).")
    keep_top: int | None = Field(
        description="Set when the request asked to keep only the strongest modes by σ: how many were kept."
    )
    query_patch: int = Field(description="Row-major index of the query patch whose attention row is shown.")
    grid: int
    prefix_kinds: list[str]
    row_before: list[float] = Field(description="The model's own attention of the query patch over all key tokens.")
    row_after: list[float] = Field(description="The same row with the modes removed (the model's own softmax).")
    patch_before: list[list[float]] = Field(description="The patch part of `row_before`, [T][T].")
    patch_after: list[list[float]] = Field(description="The patch part of `row_after`, [T][T].")
    moved: list[list[float]] = Field(
        description="Attention moved at each query patch, ½ Σ_j |A_ij − A'_ij| over all key tokens, [T][T]: "
        "0 = the row is unchanged, 1 = it moved entirely."
    )
    moved_prefix: list[float] = Field(description="Attention moved at each prefix token (as queries), same rule.")
    mean_moved: float = Field(description="The mean of `moved` over the query patches.")
    embedding_cosine: float = Field(
        description="Cosine between the model's pooled output before and after (CLS after the final norm; DeiT "
        "distilled: mean of CLS and distillation tokens; CLIP: after post_layernorm): 1 = unchanged."
    )
    has_classifier: bool = Field(description="Whether the checkpoint has a classifier (ViT and DeiT ImageNet heads).")
    top_before: list[ClassChange] = Field(description="The 5 most probable classes before, most probable first.")
    top_after: list[ClassChange] = Field(description="The 5 most probable classes after, most probable first.")
    random_weights: bool = Field(description="The model has random weights (and so does its classifier).")
    note: str | None = Field(
        default=None, description="For a dataset image read from the atlas's stored crop: why, and what that means."
    )


# --- mode index, search, classes --------------------------------------------------------------------


class ModeSortKey(StrEnum):
    position = "position"
    sigma = "sigma"
    sigma_share = "sigma_share"
    cos = "cos"
    best_score = "best_score"
    mean = "mean"
    std = "std"
    firing = "firing"
    selectivity = "selectivity"
    effect = "effect"


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class ModeIndexRow(BaseModel):
    """One signed mode of the model. Statistics fields are null when the atlas has none."""

    layer: int
    head: int
    mode: int
    sign: Sign
    sigma: float
    sigma_share: float = Field(description="σ_n / Σ_m σ_m within the head.")
    cos: float
    degenerate: bool
    active: bool = Field(description=ACTIVE_MODE)
    best_score: float | None = Field(description="Score of the mode's best image; null for an inactive mode.")
    mean: float | None = Field(description="Mean score over the dataset.")
    std: float | None
    firing: int | None = Field(description="Images on which the mode fires (both maps peak above 0).")
    selectivity: float | None = Field(description="Selectivity for its most selective class; null without classes.")
    top_class: str | None = Field(description="Its most selective class; null without classes.")
    effect: float | None = Field(
        default=None, description="Mean attention moved by the mode over the dataset, in [0, 1]; null if not measured."
    )


class ModeIndexPage(BaseModel):
    model: str
    basis: Basis
    sort: ModeSortKey
    order: SortOrder
    total: int = Field(description="Rows that pass the filters.")
    n_modes: int = Field(description="Signed modes of the model in this basis (2 per mode).")
    offset: int
    rows: list[ModeIndexRow]
    statistics_missing: str | None = Field(description="Why the statistics columns are null; null when they are not.")
    effects_missing: str | None = Field(
        default=None, description="Why the `effect` column is null; null when it is not."
    )


class ModeRefOut(BaseModel):
    """A signed mode of a served model, with what a search result shows of it."""

    model: str = Field(description="Atlas slug.")
    model_id: str
    basis: Basis
    layer: int
    head: int
    mode: int
    sign: Sign
    sigma: float
    cos: float
    top_images: list[ImageRef] = Field(
        description="Its best images that are evidence (up to 4; docs/method.md#evidence-and-firing), best first: "
        "position = rank."
    )


class NameMatch(BaseModel):
    """A model, layer, head or mode found by name ("dino-vitb16 L6 H2 M3")."""

    kind: Literal["model", "layer", "head", "mode"]
    model: str = Field(description="Atlas slug.")
    model_id: str
    dataset: str = Field(description="The atlas's dataset (two atlases of one model differ by it).")
    layer: int | None
    head: int | None
    mode: int | None
    sign: Sign | None
    title: str = Field(description="What to show, e.g. `dino-vitb16 L6 H2 M3`.")


class ClassModeMatch(BaseModel):
    mode: ModeRefOut
    label: str = Field(description="The class.")
    selectivity: float
    class_mean: float
    n_images: int = Field(description="Scored images of the class in that atlas's dataset.")


class ClassMatch(BaseModel):
    label: str
    n_models: int = Field(description="Served models whose dataset has this class (and statistics).")


class SearchResults(BaseModel):
    query: str
    names: list[NameMatch] = Field(description="Models, layers, heads and modes named by the query.")
    classes: list[ClassMatch] = Field(description="Class labels containing the query (exact match first).")
    class_modes: list[ClassModeMatch] = Field(
        description="Across every served model, the signed modes most selective for the matched classes, best first."
    )
    missing_statistics: list[str] = Field(
        description="Served atlases that cannot answer class queries (no statistics)."
    )


class ClassImage(BaseModel):
    """An image of the class in an atlas's dataset; its maps under any mode come from
    `GET /api/models/{model}/images/{image_id}/maps`."""

    image_id: str = Field(description="Global image id, `<atlas slug>~<dataset index>`.")
    dataset_index: int
    source: str = Field(description="The image's file name in the dataset.")
    thumbnail_url: str = Field(description="The image as the model saw it (JPEG).")


class ModelClassModes(BaseModel):
    model: str
    model_id: str
    revision: str = Field(description="The atlas revision (`?v=` of the images' addresses).")
    dataset: str = Field(description="The atlas's dataset.")
    n_images: int = Field(description="Scored images of the class in that dataset: every class mean rests on them.")
    largest_class_images: int = Field(
        description="Scored images of the dataset's largest class: below `reliable_class_images`, no class of the "
        "dataset can be ranked reliably."
    )
    modes: list[ClassModeMatch]
    images: list[ClassImage] = Field(
        description="The class's own images (its first by dataset index) that the atlas keeps a record of, to show "
        "under each mode."
    )
    n_images_listed: int = Field(
        description="Images of the class the atlas keeps a record of (every scored image where the atlas lists them "
        "all; else only those among its modes' top images)."
    )


class ClassAcrossModels(BaseModel):
    """For one class, each served model's most selective signed modes, side by side."""

    label: str
    basis: Basis | None = Field(description="The basis asked for; null: each atlas's first basis.")
    models: list[ModelClassModes]
    missing_statistics: list[str] = Field(description="Served atlases without statistics (left out).")
    without_class: list[str] = Field(description="Served atlases whose dataset has no such class.")
    without_basis: list[str] = Field(description="Served atlases without the basis asked for (left out).")
    reliable_class_images: int = Field(
        description="A selectivity whose class mean rests on fewer images than this is marked as unreliable."
    )


class LabelledDataset(BaseModel):
    """A dataset with class labels, as the served atlases over it have counted it."""

    name: str
    atlases: list[str] = Field(description="Slugs of the served atlases over it (with statistics).")
    n_classes: int
    n_images: int = Field(description="Scored images with a label.")
    largest_class_images: int


class ClassEntry(BaseModel):
    label: str
    n_images: list[int | None] = Field(
        description="Scored images of the class in each of `datasets`, in their order; null where it has no such class."
    )


class ClassList(BaseModel):
    """Every class of every served dataset with labels, with its image count per dataset."""

    datasets: list[LabelledDataset] = Field(
        description="Two atlases share an entry when their dataset has the same name, classes and counts."
    )
    classes: list[ClassEntry] = Field(description="Sorted by label (case-insensitive).")
    reliable_class_images: int = Field(
        description="A selectivity whose class mean rests on fewer images than this is marked as unreliable."
    )
    missing_statistics: list[str] = Field(description="Served atlases without statistics (their classes are unknown).")
    without_labels: list[str] = Field(description="Served atlases whose dataset has no class labels.")


# --- similar modes ----------------------------------------------------------------------------


class SimilarMode(BaseModel):
    """A signed mode whose mean scores per class correlate with the asked mode's."""

    layer: int
    head: int
    mode: int
    sign: Sign
    sigma: float
    correlation: float = Field(
        description="Pearson r of the two modes' mean scores per class, over the answer's `n_classes` classes."
    )
    shared_top_images: int = Field(
        description="Dataset images among both this mode's and the asked mode's listed top images (the evidence, "
        "docs/method.md#evidence-and-firing)."
    )
    top_images: int = Field(description="Top images this mode lists (its evidence, at most K).")


class ModelSimilarModes(BaseModel):
    """One atlas's signed modes most similar to the asked one, best first."""

    model: str = Field(description="Atlas slug.")
    model_id: str
    revision: str = Field(description="The atlas revision.")
    compared: int = Field(
        description="Signed modes of this atlas compared: active, with finite class means that are not constant "
        "(the asked mode itself left out)."
    )
    modes: list[SimilarMode]


class SimilarModes(BaseModel):
    """The signed modes most similar to one signed mode in every served atlas on the same dataset, its own first."""

    model: str = Field(description="Atlas slug of the asked mode.")
    layer: int
    head: int
    mode: int
    sign: Sign
    basis: Basis
    dataset: str
    rule: str = Field(description="The similarity, in words.")
    same_dataset_rule: str = Field(description="Which atlases count as built on the same dataset, in words.")
    n_classes: int = Field(description="Classes with scored images: every correlation is over these.")
    largest_class_images: int = Field(description="Scored images of the dataset's largest class.")
    reliable_class_images: int = Field(
        description="Below this many images in the largest class, class means are a few images' scores."
    )
    min_classes: int = Field(description="Below this many classes, correlations are not a finding.")
    too_few: str | None = Field(
        description="Why these correlations are not a finding (too few classes, or too few images per class); "
        "null when they can be read."
    )
    top_images: int = Field(description="Top images the asked mode lists (its evidence).")
    models: list[ModelSimilarModes] = Field(
        description="The asked mode's own atlas first, then every other served atlas on the same dataset, by slug."
    )
    unavailable: str | None = Field(
        description="Why nothing was compared (no statistics, no class labels, an inactive mode, constant class "
        "means); null when `models` holds the comparison."
    )
    missing_statistics: list[str] = Field(description="Atlases on the same dataset without statistics (left out).")
    without_basis: list[str] = Field(description="Atlases on the same dataset without this basis (left out).")
    other_datasets: list[str] = Field(description="Served atlases on other datasets (never compared).")


# --- dashboard pages --------------------------------------------------------------------------


class PageCheck(BaseModel):
    """Whether a dashboard address names a page of the atlases served now."""

    path: str
    exists: bool
    problem: str | None = Field(description="Why it names no page; null when it does.")


# --- shared mode lists (POST /api/lists) -------------------------------------------------------------

#: Limits of a shared list (docs/architecture.md#shared-mode-lists).
MAX_LIST_MODES = 24
MAX_LIST_TITLE = 120
MAX_LIST_NOTE = 280
#: A list id: 128 bits of the SHA-256 of the list's content in lower-case base32.
LIST_ID_PATTERN = r"^[a-z2-7]{26}$"


class ListModeIn(BaseModel):
    """One mode to put on a list, named as on the dashboard."""

    model: str = Field(
        min_length=1,
        max_length=200,
        description="The atlas slug, or any name the dashboard accepts for one served model (model id, short name).",
    )
    layer: int = Field(ge=0, le=10_000)
    head: int = Field(ge=0, le=10_000)
    mode: int = Field(ge=0, le=100_000)
    sign: Sign = Sign.pos
    basis: Basis = Basis.faithful
    note: str = Field(default="", max_length=MAX_LIST_NOTE, description="What the mode shows, in a few words.")


class ModeListIn(BaseModel):
    """A list to share: a title and its modes, in order."""

    title: str = Field(min_length=1, max_length=MAX_LIST_TITLE)
    modes: list[ListModeIn] = Field(min_length=1, max_length=MAX_LIST_MODES)


class ListedAtlasState(StrEnum):
    current = "current"
    rebuilt = "rebuilt"
    not_served = "not_served"


class PinnedMode(BaseModel):
    """A mode of a shared list as it is stored (and hashed into the list's id): named by its atlas's slug and
    pinned to the atlas revision it was added from."""

    model: str = Field(description="Atlas slug.")
    model_id: str
    revision: str = Field(description="The atlas revision when the list was made.")
    layer: int
    head: int
    mode: int
    sign: Sign
    basis: Basis
    note: str


class ListedMode(PinnedMode):
    """A mode of a shared list, pinned to the atlas revision it was added from."""

    atlas: ListedAtlasState = Field(
        description="`current`: the atlas served now is the pinned revision; `rebuilt`: it has been rebuilt since "
        "(what the mode shows now may differ); `not_served`: no atlas of that slug is served now."
    )
    current_revision: str | None = Field(description="The revision served now; null when `not_served`.")


class ModeList(BaseModel):
    """A shared list: immutable, named by the hash of its content (`id`)."""

    id: str = Field(description="Derived from the SHA-256 of the list's content: the same list gets the same id.")
    title: str
    modes: list[ListedMode]


# --- citation -----------------------------------------------------------------------------------


class SoftwareCitation(BaseModel):
    """How to cite the software, from the repository's `CITATION.cff`."""

    title: str
    version: str
    authors: list[str]
    license: str | None = Field(description="SPDX id; null when the repository names none.")
    repository: str | None = Field(description="Where the code is; null when not recorded.")
    message: str = Field(description="The project's request on how to cite it.")
    bibtex: str = Field(description="A biblatex `@software` entry made from the fields above.")
