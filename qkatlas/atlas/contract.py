"""The JSON files of an atlas, typed once: ``manifest.json``, ``summary.json``, ``images.json``, ``o3.json``.

The job writes these classes, ``qkatlas.atlas.Atlas`` reads them back (validated), and the service
reads their attributes. Layout and meaning of every field: docs/atlas-format.md.

**Versions.** Every manifest and O3 file carries ``format_version``. This code writes
``FORMAT_VERSION`` and reads every version from ``OLDEST_READABLE_VERSION`` up: an older file is
brought up to date by the functions of ``UPGRADES`` (one per version step) before it is validated.
A file from a newer qkatlas, or one older than can be upgraded, is refused with the reason and the
command that rebuilds it. Every change to what an atlas holds (a new field or array) bumps
``FORMAT_VERSION`` and adds the upgrade of the previous version (docs/atlas-format.md#versions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from qkatlas.conventions import Basis, Sign
from qkatlas.device import Precision
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.models.base import ModelSpec, PlantedMode, PrefixKind
from qkatlas.models.source import ModelSource, revision_option

FORMAT_VERSION = 6
OLDEST_READABLE_VERSION = 1


def _add_statistics(document: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: per-mode statistics were added; a version-1 atlas has none (``statistics: null``).
    An ``o3.json`` (same versions) has nothing to add."""
    if document.get("kind") == "o3":
        return {**document, "format_version": 2}
    return {**document, "format_version": 2, "statistics": None}


def _add_planted_modes(document: dict[str, Any]) -> dict[str, Any]:
    """Version 2 → 3: ``model.planted_modes`` was added; a version-2 file lists none (its default), in an
    ``o3.json`` too."""
    return {**document, "format_version": 3}


def _add_samples(document: dict[str, Any]) -> dict[str, Any]:
    """Version 3 → 4: the statistics gained the distribution samples (``statistics.samples``) and
    ``images.json`` lists every scored image; a version-3 atlas has no samples (``samples: null``) and
    lists its winners only. An ``o3.json`` has nothing to add."""
    statistics = document.get("statistics")
    if document.get("kind") == "o3" or not isinstance(statistics, dict):
        return {**document, "format_version": 4}
    return {**document, "format_version": 4, "statistics": {**statistics, "samples": None}}


def _add_effects(document: dict[str, Any]) -> dict[str, Any]:
    """Version 4 → 5: the attention moved by each mode (``effects``) was added; a version-4 atlas has not
    measured it (``effects.computed`` false). An ``o3.json`` has nothing to add."""
    if document.get("kind") == "o3":
        return {**document, "format_version": 5}
    return {**document, "format_version": 5, "effects": {"computed": False}}


def _add_precision(document: dict[str, Any]) -> dict[str, Any]:
    """Version 5 → 6: ``run.precision`` and the tie check at the top-K cut-off (``ties``, with
    ``topk/runner_up.npy``) were added. A version-5 atlas scored in bfloat16 was ``bf16``, one scored in
    float32 on the CPU ``fp32`` (the CPU has no TF32); anything else is not recorded (``null``). It kept
    no runner-up (``ties: null``). An ``o3.json`` has nothing to add."""
    if document.get("kind") == "o3":
        return {**document, "format_version": 6}
    run = _object(document, "run")
    device, dtype = str(run.get("device", "")), run.get("dtype")
    precision = "bf16" if dtype == "bfloat16" else "fp32" if dtype == "float32" and device == "cpu" else None
    return {**document, "format_version": 6, "run": {**run, "precision": precision}, "ties": None}


#: ``UPGRADES[v]`` turns a version-``v`` file (parsed JSON) into a version-``v + 1`` one.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _add_statistics,
    2: _add_planted_modes,
    3: _add_samples,
    4: _add_effects,
    5: _add_precision,
}


class FormatError(ValueError):
    """A file that cannot be read as this version of the contract. ``str(e)`` says why and what to do."""


class _Record(BaseModel):
    """Base of every stored record: immutable, and unknown fields are an error (a typo is not lost)."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --- manifest.json ------------------------------------------------------------------------------


class ModelInfo(_Record):
    """The model's shape (``qkatlas.models.ModelSpec``) as stored, with ``n_prefix`` and ``grid`` spelled out."""

    model_id: str
    family: str
    n_layers: int = Field(ge=1)
    n_heads: int = Field(ge=1)
    d_model: int = Field(ge=1)
    d_head: int = Field(ge=1)
    patch_size: int = Field(ge=1)
    image_size: int = Field(ge=1)
    prefix_kinds: tuple[PrefixKind, ...]
    revision: str | None = None
    random_init: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)
    n_prefix: int = Field(ge=0)
    grid: int = Field(ge=1)
    planted_modes: tuple[PlantedMode, ...] = Field(
        default=(),
        description="Modes set by hand in the weights, with what their pages should show (only the planted demo "
        "model has any; absent from atlases written before).",
    )

    @model_validator(mode="after")
    def _derived_fields_agree(self) -> Self:
        if self.n_prefix != len(self.prefix_kinds):
            raise ValueError(f"n_prefix is {self.n_prefix} but prefix_kinds has {len(self.prefix_kinds)} entries")
        if self.grid != self.image_size // self.patch_size:
            raise ValueError(
                f"grid is {self.grid}, expected image_size // patch_size = {self.image_size // self.patch_size}"
            )
        return self

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ModelInfo:
        return cls(
            model_id=spec.model_id,
            family=spec.family,
            n_layers=spec.n_layers,
            n_heads=spec.n_heads,
            d_model=spec.d_model,
            d_head=spec.d_head,
            patch_size=spec.patch_size,
            image_size=spec.image_size,
            prefix_kinds=spec.prefix_kinds,
            revision=spec.revision,
            random_init=spec.random_init,
            extra=dict(spec.extra),
            n_prefix=spec.n_prefix,
            grid=spec.grid,
            planted_modes=spec.planted_modes,
        )

    @property
    def n_patches(self) -> int:
        return self.grid * self.grid


class ScoringRule(_Record):
    """How an image's score for a signed mode is computed (docs/method.md#ranking-rule)."""

    rule: Literal["paper"] = "paper"
    pos: str = "max P_U * max P_V"
    neg: str = "min P_U * min P_V"


class DatasetRecord(_Record):
    name: str
    source: str = Field(description="Where the images were read from on the machine that built the atlas.")
    layout: Literal["tree", "flat", "list"]
    n_images: int = Field(ge=0)
    n_skipped: int = Field(ge=0)


class SkippedImage(_Record):
    """An image of the dataset that could not be decoded, and why."""

    index: int = Field(ge=0)
    source: str
    reason: str


class RunInfo(_Record):
    """How and when the job ran (not part of the atlas's content: two runs differ only here)."""

    device: str
    dtype: str
    batch_size: int = Field(ge=1)
    workers: int = Field(ge=0)
    processes: int = Field(ge=1)
    started: str
    finished: str
    wall_seconds: float
    images_per_second: float
    resumed: bool
    decoder: Literal["pillow", "nvjpeg"] = Field(
        default="pillow",
        description="How the JPEGs were decoded: Pillow in worker processes, or nvJPEG on the GPU (Pillow for files "
        "it cannot read); the two differ by rounding (docs/benchmarks.md).",
    )
    precision: Precision | None = Field(
        description="How the scores were computed (--precision): bf16 (bfloat16 autocast and projections), tf32 "
        "(float32 with TF32 matmuls) or fp32 (float32 throughout); null when an atlas built before format 6 did "
        "not say (float32 on a GPU)."
    )


class TiesInfo(_Record):
    """What decides whether the last places of a top-K tie at the atlas's precision
    (docs/method.md#ties-at-the-cut-off); ``topk/runner_up.npy`` holds each column's best score left out."""

    epsilon: float = Field(ge=0, description="The relative rounding ε of a score at the atlas's precision.")
    how: Literal["measured", "analytic"] = Field(
        description="measured: on the calibration sample against float32 at full precision; analytic: fp32's bound."
    )
    sample_images: int = Field(ge=0, description="Images ε was measured on (0 when analytic).")
    rule: str = Field(description="When two scores tie, in words.")


class SamplesInfo(_Record):
    """What the distribution samples hold (docs/method.md#samples-across-the-distribution)."""

    bands: int = Field(ge=1, description="Bands each signed mode's histogram range is cut into.")
    per_band: int = Field(ge=1, description="Images kept per band.")
    rule: str = Field(description="How the bands are cut and the images chosen, in words.")


class StatisticsInfo(_Record):
    """What ``stats/`` holds: per-mode score statistics over every scored image
    (docs/method.md#per-mode-statistics, docs/atlas-format.md#statistics)."""

    n_bins: int = Field(ge=1, description="Equal-width bins per signed mode (plus an underflow and an overflow count).")
    binning: str = Field(description="How every signed mode's bins were fixed, in words.")
    calibration_images: int = Field(ge=0, description="Images of the calibration sample that fixed the bins.")
    classes: tuple[str, ...] = Field(
        description="Class id → class label, sorted; empty when the dataset has no labels (no class arrays then)."
    )
    top_classes: int = Field(ge=0, description="Most selective classes kept per signed mode.")
    class_modes: int = Field(ge=0, description="Most selective signed modes kept per class and basis.")
    selectivity: str = Field(description="The selectivity rule, in words.")
    samples: SamplesInfo | None = Field(
        description="The images sampled across each signed mode's distribution; null in atlases built before them "
        "(format 3 and older)."
    )


class EffectsInfo(_Record):
    """What ``effects/`` holds: the attention each mode moves, over every scored image
    (docs/method.md#attention-moved-by-a-mode, docs/atlas-format.md#effects). Without ``computed`` there is
    no ``effects/`` folder and the other fields are null."""

    computed: bool = Field(description="The job measured the effects (built with --effects).")
    definition: str | None = Field(default=None, description="What a mode's effect on an image is, in words.")
    top_images: int | None = Field(default=None, ge=1, description="Images with the largest effect kept per mode.")
    n_bins: int | None = Field(
        default=None, ge=1, description="Equal-width bins per mode (plus an underflow and an overflow count)."
    )
    binning: str | None = Field(default=None, description="How every mode's bins were fixed, in words.")
    calibration_images: int | None = Field(default=None, ge=0, description="Images whose effects fixed the bins.")

    @model_validator(mode="after")
    def _complete_when_computed(self) -> Self:
        fields = (self.definition, self.top_images, self.n_bins, self.binning, self.calibration_images)
        if self.computed and any(value is None for value in fields):
            raise ValueError("computed effects need a definition, top_images, n_bins, binning and calibration_images")
        return self


class AtlasManifest(_Record):
    """``manifest.json``: what the atlas holds and everything needed to rebuild it."""

    format_version: int
    slug: str
    model_slug: str
    model: ModelInfo
    model_source: ModelSource
    preprocessing: Preprocessing
    bases: tuple[Basis, ...] = Field(min_length=1)
    signs: tuple[Sign, ...]
    scoring: ScoringRule
    sign_rule: str
    degeneracy_rtol: float
    top_k: int = Field(ge=1)
    dataset: DatasetRecord
    skipped: tuple[SkippedImage, ...]
    run: RunInfo
    versions: dict[str, str]
    statistics: StatisticsInfo | None = Field(
        description="Per-mode statistics, or null when the atlas has none (built before format 2 or with "
        "--no-statistics)."
    )
    effects: EffectsInfo = Field(
        description="The attention moved by each mode: whether it was measured (--effects) and what it holds."
    )
    ties: TiesInfo | None = Field(
        description="The tie check at the top-K cut-off, or null when the atlas has none (built before format 6)."
    )

    @model_validator(mode="after")
    def _axes_are_sets(self) -> Self:
        if len(set(self.bases)) != len(self.bases):
            raise ValueError(f"bases repeat: {[b.value for b in self.bases]}")
        if self.signs != (Sign.pos, Sign.neg):
            raise ValueError(f"signs must be ['pos', 'neg'] (the sign axis order), got {[s.value for s in self.signs]}")
        return self


# --- summary.json --------------------------------------------------------------------------------


class AtlasSummary(_Record):
    """``summary.json``: per-layer and per-head cosine summaries (docs/method.md#cosine-and-layer-summaries).

    Only active modes count (docs/method.md#inactive-modes). A value with nothing to average (a head
    without an active mode, a layer without an active head) is ``None`` (JSON ``null``)."""

    normalized_depth: list[float] = Field(description="ℓ / (L − 1), one per layer.")
    layer_weighted_cos: list[float | None] = Field(
        description="Mean over the layer's active heads of the σ-weighted cosine; null if none is active."
    )
    layer_unweighted_cos: list[float | None] = Field(
        description="Mean of cos_n over the layer's active modes; null if none is active."
    )
    layer_weighted_cos_scaled: list[float | None] = Field(
        description="Released-code variant: layer_weighted_cos / d_h; null where it is null."
    )
    head_weighted_cos: list[list[float | None]] = Field(
        description="[L][H]: Σ_n (σ_n / Σ_m σ_m) cos_n; null for a head without an active mode."
    )
    baseline_95: float = Field(description="1.96 / √d: random directions' cosines lie within ± this 95 % of the time.")


# --- images.json ---------------------------------------------------------------------------------


class ImageRecord(_Record):
    """A winning image: where it came from (relative to the dataset) and its class label when known."""

    source: str
    label: str | None


#: ``images.json``: dataset index → record, for every scored image (format 4; before it, the winners only).
IMAGE_INDEX = TypeAdapter(dict[int, ImageRecord])


# --- o3.json -------------------------------------------------------------------------------------

O3Region = Literal["same_object", "different_object", "background"]


class RegionShares(_Record):
    """One share per region; the three sum to 1."""

    same_object: float
    different_object: float
    background: float

    def of(self, region: O3Region) -> float:
        return float(getattr(self, region))


class RegionSeries(_Record):
    """One value per layer and region."""

    same_object: list[float]
    different_object: list[float]
    background: list[float]

    def of(self, region: O3Region) -> list[float]:
        values: list[float] = getattr(self, region)
        return values

    def at(self, layer: int) -> RegionShares:
        return RegionShares(
            same_object=self.same_object[layer],
            different_object=self.different_object[layer],
            background=self.background[layer],
        )


class RegionHeads(_Record):
    """One value per layer, head and region: ``[L][H]``."""

    same_object: list[list[float]]
    different_object: list[list[float]]
    background: list[list[float]]

    def at(self, layer: int, head: int) -> RegionShares:
        return RegionShares(
            same_object=self.same_object[layer][head],
            different_object=self.different_object[layer][head],
            background=self.background[layer][head],
        )


class O3QueryTables(_Record):
    """Where one query's attention goes: per layer (mean over heads and images), its spread over
    images, per head, and what uniform attention would give."""

    layer: RegionSeries
    layer_std: RegionSeries
    head: RegionHeads
    chance: RegionShares


class O3DatasetRecord(_Record):
    source: str
    n_images: int = Field(ge=0)
    n_used: int = Field(ge=0)
    n_skipped: int = Field(ge=0)


class O3SkippedExample(_Record):
    name: str
    reason: str


class O3ImageRecord(_Record):
    """One analysed example: its two query patches ``(row, col)``, their coverage and the objects' areas."""

    name: str
    target_query: tuple[int, int]
    distractor_query: tuple[int, int]
    target_query_coverage: float
    distractor_query_coverage: float
    target_area: float
    distractor_area: float


class O3Record(_Record):
    """``o3.json``: Odd-One-Out attention preference of a model (docs/method.md#odd-one-out-analysis)."""

    format_version: int
    kind: Literal["o3"] = "o3"
    model_slug: str
    model: ModelInfo
    model_source: ModelSource
    preprocessing: Preprocessing
    dataset: O3DatasetRecord
    skipped: tuple[O3SkippedExample, ...]
    definitions: dict[str, str]
    mask_threshold: int
    normalized_depth: list[float]
    target_query: O3QueryTables
    distractor_query: O3QueryTables
    images: tuple[O3ImageRecord, ...]

    def query(self, name: Literal["target_query", "distractor_query"]) -> O3QueryTables:
        return self.target_query if name == "target_query" else self.distractor_query


# --- reading -------------------------------------------------------------------------------------


def describe_validation_error(error: ValidationError) -> str:
    """The first wrong field of a record, as ``field.path: message`` (what ``/api/health`` shows)."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _object(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """``raw[name]`` when it is a JSON object, else an empty one (files of unknown versions)."""
    value = raw.get(name)
    return value if isinstance(value, dict) else {}


def _atlas_rebuild_hint(raw: dict[str, Any]) -> str:
    """The command that rebuilds the atlas a manifest of any version describes, as far as it says."""
    source, dataset = _object(raw, "model_source"), _object(raw, "dataset")
    command = (
        f"python -m precompute --model {source.get('id', '<model>')} --images {dataset.get('source', '<images>')} "
        f"--out <atlas root> --top-k {raw.get('top_k', 16)}"
    ) + revision_option(source.get("revision"))
    if source.get("random_init"):
        command += f" --random-init --seed {source.get('seed', 0)}"
    return command


def _o3_rebuild_hint(raw: dict[str, Any]) -> str:
    """The command that recomputes an ``o3.json`` of any version, as far as it says."""
    source, dataset = _object(raw, "model_source"), _object(raw, "dataset")
    command = (
        f"python -m precompute o3 --model {source.get('id', '<model>')} --o3 {dataset.get('source', '<o3 folder>')}"
    ) + revision_option(source.get("revision"))
    if source.get("random_init"):
        command += f" --random-init --seed {source.get('seed', 0)}"
    return command


def _upgraded(raw: Any, what: str, rebuild_hint: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """``raw`` brought to ``FORMAT_VERSION``, or ``FormatError`` saying why it cannot be."""
    if not isinstance(raw, dict):
        raise FormatError(f"{what} is not a JSON object")
    version = raw.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise FormatError(f"{what} has no format_version; rebuild it: {rebuild_hint(raw)}")
    if version > FORMAT_VERSION:
        raise FormatError(
            f"{what} is format {version}, written by a newer qkatlas; this one reads formats "
            f"{OLDEST_READABLE_VERSION}-{FORMAT_VERSION}: upgrade qkatlas (or rebuild: {rebuild_hint(raw)})"
        )
    if version < OLDEST_READABLE_VERSION:
        raise FormatError(
            f"{what} is format {version}, older than this qkatlas can read (formats "
            f"{OLDEST_READABLE_VERSION}-{FORMAT_VERSION}); rebuild it: {rebuild_hint(raw)}"
        )
    document: dict[str, Any] = raw
    for step in range(version, FORMAT_VERSION):
        document = UPGRADES[step](document)
    return document


def read_manifest(raw: Any) -> AtlasManifest:
    """Parsed ``manifest.json`` of any readable version → ``AtlasManifest``, or ``FormatError``."""
    raw = _upgraded(raw, "manifest.json", _atlas_rebuild_hint)
    try:
        return AtlasManifest.model_validate(raw)
    except ValidationError as error:
        raise FormatError(f"manifest.json: {describe_validation_error(error)}") from None


def read_o3(raw: Any) -> O3Record:
    """Parsed ``o3.json`` of any readable version → ``O3Record``, or ``FormatError``."""
    raw = _upgraded(raw, "o3.json", _o3_rebuild_hint)
    try:
        return O3Record.model_validate(raw)
    except ValidationError as error:
        raise FormatError(f"o3.json: {describe_validation_error(error)}") from None
