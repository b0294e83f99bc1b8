/** Typed API payloads for component tests (shapes from the generated client). */
import type {
  AttentionSplit,
  ClassAcrossModels,
  ClassImage,
  ClassList,
  DatasetImageMaps,
  ClassModeMatch,
  HeadDetail,
  ModeDetail,
  ModeSamples,
  ModelDetail,
  ModelSummary,
  ModeIndexPage,
  ModeIndexRow,
  O3Result,
  PrecomputeJob,
  SearchResults,
  UploadHeadModes,
  UploadModelModes,
} from "../api/client";

/** What the backend says of an atlas built without statistics (`statistics.note`, `statistics_missing`). */
export const STATISTICS_NOTE =
  "not computed for this atlas (it was built before per-mode statistics, or with --no-statistics): rebuild it to add them";

/** The id every upload fixture uses (32 hex digits, as the backend makes them). */
export const UPLOAD_ID = "0123456789abcdef0123456789abcdef";

type JobTotals = NonNullable<PrecomputeJob["job"]>;

export function modelSummary(overrides: Partial<ModelSummary> = {}): ModelSummary {
  return {
    slug: "planted__shapes",
    revision: "0123456789abcdef",
    model_slug: "planted",
    model_id: "planted-vit",
    weights_revision: null,
    family: "planted",
    n_layers: 2,
    n_heads: 3,
    n_modes: 4,
    d_model: 16,
    d_head: 4,
    patch_size: 16,
    image_size: 64,
    grid: 4,
    prefix_kinds: ["cls"],
    top_k: 2,
    bases: ["faithful", "exact"],
    dataset: { name: "shapes", n_images: 10, n_skipped: 0 },
    random_init: true,
    precision: "fp32",
    planted: false,
    planted_modes: [],
    preprocessing: {
      resize: 64,
      crop: 64,
      resize_mode: "exact",
      interpolation: "bilinear",
      mean: [0, 0, 0],
      std: [1, 1, 1],
      description: "squashed to 64 × 64 px (bilinear; the aspect ratio is not kept)",
    },
    statistics: { computed: true, n_classes: 3, note: null },
    has_o3: false,
    ...overrides,
  };
}

export function modelDetail(overrides: Partial<ModelDetail> = {}): ModelDetail {
  const base = modelSummary();
  return {
    ...base,
    layers: [0, 1].map((layer) => ({
      layer,
      normalized_depth: layer,
      weighted_cos: 0.5 - 0.4 * layer,
      unweighted_cos: 0.3 - 0.2 * layer,
      weighted_cos_scaled: (0.5 - 0.4 * layer) / 4,
    })),
    head_weighted_cos: [
      [0.5, 0.4, 0.6],
      [0.1, -0.2, 0.0],
    ],
    baseline_95: 0.49,
    spectra: {
      sigma: [0, 1].map(() => [0, 1, 2].map(() => [4, 3, 2, 1])),
      cos: [0, 1].map(() => [0, 1, 2].map(() => [0.5, 0.2, 0.1, 0])),
      degenerate: [0, 1].map(() => [0, 1, 2].map(() => [false, false, false, false])),
      active: [0, 1].map(() => [0, 1, 2].map(() => [true, true, true, true])),
    },
    ...overrides,
  };
}

export function headDetail(overrides: Partial<HeadDetail> = {}): HeadDetail {
  return {
    model: "planted__shapes",
    layer: 1,
    head: 2,
    basis: "faithful",
    weighted_cos: 0.25,
    active: true,
    modes: [0, 1, 2, 3].map((mode) => ({
      mode,
      sigma: 4 - mode,
      cos: 0.1 * mode,
      degenerate: mode === 3,
      active: true,
      best_score: { pos: 2 - mode * 0.1, neg: mode === 0 ? null : 1 },
      best_image: {
        pos: { image_id: `planted__shapes~${mode}`, thumbnail_url: `/api/images/planted__shapes~${mode}` },
        neg: null,
      },
      never_fires: { pos: false, neg: mode === 0 },
    })),
    ...overrides,
  };
}

/** A head whose W_q has rank 2: modes 2 and 3 are inactive (σ = 0, zero vectors, no images). */
export function partlyInactiveHead(): HeadDetail {
  const head = headDetail();
  return {
    ...head,
    modes: head.modes.map((m) =>
      m.mode < 2
        ? m
        : {
            ...m,
            sigma: 0,
            cos: 0,
            degenerate: false,
            active: false,
            best_score: { pos: null, neg: null },
            best_image: { pos: null, neg: null },
            never_fires: null,
          },
    ),
  };
}

export function modeDetail(overrides: Partial<ModeDetail> = {}): ModeDetail {
  return {
    model: "planted__shapes",
    layer: 1,
    head: 2,
    mode: 1,
    sign: "pos",
    basis: "faithful",
    sigma: 3,
    sigma_fraction: 0.3,
    cos: 0.2,
    degenerate: false,
    active: true,
    top_images: [0, 1].map((rank) => ({
      rank,
      image_id: `planted__shapes~${rank + 5}`,
      dataset_index: rank + 5,
      score: 9 - rank,
      fires: true,
      label: rank === 0 ? "red square" : null,
      source: `img${rank}.png`,
      thumbnail_url: `/api/images/planted__shapes~${rank + 5}`,
      overlay_url: `/api/models/planted__shapes/layers/1/heads/2/modes/1/top/${rank}/overlay.png?sign=pos&basis=faithful`,
      maps_url: `/api/models/planted__shapes/layers/1/heads/2/modes/1/top/${rank}/maps?sign=pos&basis=faithful`,
    })),
    left_out: 0,
    cutoff_tie: null,
    ties_missing: null,
    evidence_rule: "a top image is evidence for a signed mode when its score is above the noise floor",
    // 10 images: one below the first edge (down to −1.4), 8 bins of width 1 from −1, and two from 7 on
    // (up to 9: the top images).
    distribution: {
      count: 10,
      firing: 6,
      never_fires: false,
      mean: 2.6,
      std: 3.1,
      minimum: -1.4,
      maximum: 9,
      edges: [-1, 0, 1, 2, 3, 4, 5, 6, 7],
      counts: [1, 2, 1, 1, 1, 0, 1, 1, 0, 2],
      binning: "8 equal-width bins per signed mode over the calibration range",
    },
    class_profile: {
      top_classes: [
        { class_id: 2, label: "red square", mean: 8.5, selectivity: 1.9, n_images: 2 },
        { class_id: 0, label: "blue circle", mean: 1.0, selectivity: -0.5, n_images: 4 },
        { class_id: 1, label: "green_triangle", mean: 0.5, selectivity: -0.7, n_images: 4 },
      ],
      top_k_labels: [{ label: "red square", count: 1 }],
      selectivity_rule: "selectivity of a signed mode for class c = (mean score of c's images − mean) / std",
    },
    statistics_missing: null,
    map_scale: { query: 2.5, key: 0.8 },
    ...overrides,
  };
}

/** The samples of `modeDetail()`'s distribution: its 8 bins as 8 bands of one bin (the outer counts join the end bands). */
export function modeSamples(overrides: Partial<ModeSamples> = {}): ModeSamples {
  const counts = [3, 1, 1, 1, 0, 1, 1, 2];
  return {
    model: "planted__shapes",
    layer: 1,
    head: 2,
    mode: 1,
    sign: "pos",
    basis: "faithful",
    bands: counts.map((count, band) => ({
      band,
      low: band === 0 ? -1.4 : band - 1,
      high: band === 7 ? 9 : band,
      first_bin: band,
      n_bins: 1,
      count,
      images: Array.from({ length: Math.min(count, 2) }, (_, i) => ({
        image_id: `planted__shapes~${20 + band * 2 + i}`,
        dataset_index: 20 + band * 2 + i,
        score: band - 0.5 + i * 0.1,
        fires: band > 2,
        label: band === 7 ? "red square" : null,
        source: `sample${band}-${i}.png`,
        thumbnail_url: `/api/images/planted__shapes~${20 + band * 2 + i}`,
      })),
    })),
    per_band: 4,
    rule: "8 bands of 8 bins; the 4 images with the smallest key in each",
    samples_missing: null,
    ...overrides,
  };
}

/** A mode of an atlas built without statistics. */
export function modeDetailWithoutStatistics(overrides: Partial<ModeDetail> = {}): ModeDetail {
  return modeDetail({ distribution: null, class_profile: null, statistics_missing: STATISTICS_NOTE, ...overrides });
}

/** Row `position` of the mode index of `modelSummary()` (2 layers × 3 heads × 4 modes × 2 signs), in position order. */
export function modeIndexRow(position: number, overrides: Partial<ModeIndexRow> = {}): ModeIndexRow {
  const sign = position % 2 === 0 ? "pos" : "neg";
  const mode = Math.floor(position / 2) % 4;
  const head = Math.floor(position / 8) % 3;
  const layer = Math.floor(position / 24);
  return {
    layer,
    head,
    mode,
    sign,
    sigma: 4 - mode,
    sigma_share: (4 - mode) / 10,
    cos: 0.1 * mode,
    degenerate: mode === 3,
    active: true,
    best_score: 9 - 0.1 * position,
    mean: 1 + 0.01 * position,
    std: 0.5,
    firing: position % 5,
    selectivity: 2 - 0.02 * position,
    top_class: ["red square", "blue circle", "green_triangle"][position % 3] ?? null,
    ...overrides,
  };
}

/** A page of a mode index of `total` rows; row i is `modeIndexRow(i)`. */
export function modeIndexPage(
  total: number,
  offset: number,
  limit: number,
  overrides: Partial<ModeIndexPage> = {},
): ModeIndexPage {
  const end = Math.min(total, offset + limit);
  return {
    model: "planted__shapes",
    basis: "faithful",
    sort: "position",
    order: "asc",
    total,
    n_modes: total,
    offset,
    rows: Array.from({ length: Math.max(0, end - offset) }, (_, i) => modeIndexRow(offset + i)),
    statistics_missing: null,
    ...overrides,
  };
}

export function classModeMatch(overrides: Partial<ClassModeMatch> = {}, mode: Partial<ClassModeMatch["mode"]> = {}) {
  return {
    mode: {
      model: "planted__shapes",
      model_id: "planted-vit",
      basis: "faithful" as const,
      layer: 0,
      head: 1,
      mode: 2,
      sign: "pos" as const,
      sigma: 3,
      cos: 0.2,
      top_images: [0, 1].map((i) => ({
        image_id: `planted__shapes~${i}`,
        thumbnail_url: `/api/images/planted__shapes~${i}`,
      })),
      ...mode,
    },
    label: "red square",
    selectivity: 1.9,
    class_mean: 8.5,
    n_images: 12,
    ...overrides,
  } satisfies ClassModeMatch;
}

export function searchResults(overrides: Partial<SearchResults> = {}): SearchResults {
  return {
    query: "red",
    names: [
      {
        kind: "mode",
        model: "planted__shapes",
        model_id: "planted-vit",
        dataset: "shapes",
        layer: 1,
        head: 2,
        mode: 3,
        sign: null,
        title: "planted-vit L1 H2 M3",
      },
    ],
    classes: [{ label: "red square", n_models: 1 }],
    class_modes: [classModeMatch(), classModeMatch({ selectivity: 1.2 }, { layer: 1, head: 0, mode: 0, sign: "neg" })],
    missing_statistics: ["vit-tiny__photos"],
    ...overrides,
  };
}

export function classImage(index: number, model = "planted__shapes"): ClassImage {
  return {
    image_id: `${model}~${index}`,
    dataset_index: index,
    source: `red_square/${index}.png`,
    thumbnail_url: `/api/images/${model}~${index}?v=0123456789abcdef`,
  };
}

/** A dataset image's maps under a mode, as `GET /api/models/{model}/images/{image_id}/maps` answers. */
export function datasetImageMaps(overrides: Partial<DatasetImageMaps> = {}): DatasetImageMaps {
  return {
    model: "dino__shapes",
    revision: "fedcba9876543210",
    image_id: "dino__shapes~3",
    dataset_index: 3,
    label: "red square",
    layer: 5,
    head: 3,
    mode: 7,
    sign: "pos",
    basis: "faithful",
    score: 1.25,
    fires: true,
    maps: {
      grid: 2,
      image_size: 32,
      query: [
        [0, 1],
        [2, 3],
      ],
      key: [
        [1, 0],
        [0, 1],
      ],
      scale: { query: 3, key: 1 },
      query_peak: { row: 1, column: 1 },
      key_peak: { row: 0, column: 0 },
    },
    from_original_file: true,
    note: null,
    ...overrides,
  };
}

export function classAcrossModels(overrides: Partial<ClassAcrossModels> = {}): ClassAcrossModels {
  return {
    label: "red square",
    basis: null,
    without_basis: [],
    models: [
      {
        model: "planted__shapes",
        model_id: "planted-vit",
        revision: "0123456789abcdef",
        dataset: "shapes",
        n_images: 12,
        largest_class_images: 20,
        modes: [classModeMatch()],
        images: [],
        n_images_listed: 0,
      },
      {
        model: "dino__shapes",
        model_id: "facebook/dino-vits16",
        revision: "fedcba9876543210",
        dataset: "shapes",
        n_images: 12,
        largest_class_images: 20,
        images: [classImage(3, "dino__shapes"), classImage(8, "dino__shapes")],
        n_images_listed: 2,
        modes: [
          classModeMatch(
            { selectivity: 2.5, class_mean: 4 },
            { model: "dino__shapes", model_id: "facebook/dino-vits16", layer: 5, head: 3, mode: 7 },
          ),
        ],
      },
    ],
    missing_statistics: ["vit-tiny__photos"],
    without_class: ["other__imagenette"],
    reliable_class_images: 5,
    ...overrides,
  };
}

export function classList(overrides: Partial<ClassList> = {}): ClassList {
  return {
    datasets: [
      {
        name: "shapes",
        atlases: ["planted__shapes", "dino__shapes"],
        n_classes: 3,
        n_images: 34,
        largest_class_images: 20,
      },
      {
        name: "imagenet-samples",
        atlases: ["other__imagenet-samples"],
        n_classes: 2,
        n_images: 2,
        largest_class_images: 1,
      },
    ],
    classes: [
      { label: "blue circle", n_images: [2, null] },
      { label: "golden_retriever", n_images: [null, 1] },
      { label: "red square", n_images: [12, null] },
      { label: "tench", n_images: [null, 1] },
      { label: "yellow triangle", n_images: [20, null] },
    ],
    reliable_class_images: 5,
    missing_statistics: [],
    without_labels: ["vit-tiny__photos"],
    ...overrides,
  };
}

export function uploadHeadModes(overrides: Partial<UploadHeadModes> = {}): UploadHeadModes {
  return {
    upload_id: UPLOAD_ID,
    model: "planted__shapes",
    revision: "0123456789abcdef",
    layer: 0,
    head: 0,
    basis: "faithful",
    contribution_rule: "C_n = σ_n · max(pos, neg)",
    modes: [2, 0].map((mode, rank) => ({
      rank,
      mode,
      sigma: 3,
      cos: 0.1,
      degenerate: false,
      active: true,
      pos_score: 2,
      neg_score: 1,
      sign: "pos" as const,
      contribution: 6 - rank,
      never_fires: false,
    })),
    key_salience: [],
    ...overrides,
  };
}

/**
 * The attention row of query patch 5 on the 4 × 4 grid of `modelSummary()` (one CLS token first):
 * 0.1 to the CLS token, 0.6 to patch 10 and 0.02 to each other patch. Mode 0 raises only patch 10's
 * logit (it drives the row most), mode 1 only patch 2's, mode 2 nothing.
 */
export function attentionSplit(overrides: Partial<AttentionSplit> = {}): AttentionSplit {
  const patches = Array.from({ length: 16 }, (_, p) => (p === 10 ? 0.6 : 0.02));
  const attention = [0.1, ...patches];
  const logitsOn = (patch: number, value: number) => attention.map((_, j) => (j === patch + 1 ? value : 0));
  return {
    upload_id: UPLOAD_ID,
    model: "planted__shapes",
    layer: 0,
    head: 0,
    query_patch: 5,
    grid: 4,
    prefix_kinds: ["cls"],
    attention,
    patch_attention: [0, 1, 2, 3].map((r) => patches.slice(4 * r, 4 * r + 4)),
    reconstructed: attention,
    key_term: attention.map(() => 0),
    modes: [
      { mode: 0, logits: logitsOn(10, 2) },
      { mode: 1, logits: logitsOn(2, 1) },
      { mode: 2, logits: attention.map(() => 0) },
    ],
    ...overrides,
  };
}

/** A whole-model ranking of `n` modes: rank r is mode r % 4 of head r % 3 in layer r % 2, sign alternating. */
export function uploadModelModes(n: number, overrides: Partial<UploadModelModes> = {}): UploadModelModes {
  return {
    upload_id: UPLOAD_ID,
    model: "planted__shapes",
    revision: "0123456789abcdef",
    basis: "faithful",
    contribution_rule: "C_n = σ_n · max(pos, neg)",
    n_modes_total: 24,
    modes: Array.from({ length: n }, (_, rank) => ({
      rank,
      layer: rank % 2,
      head: rank % 3,
      mode: rank % 4,
      sign: rank % 2 === 0 ? ("pos" as const) : ("neg" as const),
      sigma: 4 - 0.1 * rank,
      cos: 0.2,
      degenerate: rank === 1,
      pos_score: 2,
      neg_score: 1,
      contribution: 20 - rank,
      never_fires: rank === 2,
    })),
    ...overrides,
  };
}

export function o3Result(overrides: Partial<O3Result> = {}): O3Result {
  const shares = (same: number, different: number) => ({
    same_object: same,
    different_object: different,
    background: 1 - same - different,
  });
  return {
    model: "planted__shapes",
    model_id: "planted-vit",
    n_layers: 2,
    n_heads: 3,
    dataset: { name: "o3-synthetic", n_images: 5, n_used: 4, n_skipped: 1 },
    definitions: { average: "per layer: mean over heads" },
    chance: { target_query: shares(0.1, 0.25), distractor_query: shares(0.25, 0.1) },
    layers: [0, 1].map((layer) => {
      const query = (same: number, different: number) => ({
        mean: shares(same, different),
        std: shares(0.05, 0.05),
        heads: [0, 1, 2].map(() => shares(same, different)),
      });
      return {
        layer,
        normalized_depth: layer,
        target_query: query(0.6 - 0.3 * layer, 0.2 + 0.3 * layer),
        distractor_query: query(0.5, 0.1),
      };
    }),
    ...overrides,
  };
}

export function precomputeJob(overrides: Partial<PrecomputeJob> = {}): PrecomputeJob {
  return {
    slug: "facebook--dino-vits16__imagenette",
    model_id: "facebook/dino-vits16",
    dataset: "imagenette",
    state: "running",
    phase: "stream",
    done: 1200,
    total: 3925,
    images_per_second: 85.2,
    eta_seconds: 32,
    started: "2025-01-01T10:00:00+00:00",
    updated: "2025-01-01T10:00:14+00:00",
    message: null,
    order: 0,
    job: null,
    ...overrides,
  };
}

/** The whole-job totals every record of a multi-model job carries (`PrecomputeJob.job`). */
export function jobTotals(overrides: Partial<JobTotals> = {}): JobTotals {
  return {
    id: "3f9c2a1b7d40",
    n_models: 3,
    models_done: 1,
    done: 5125,
    total: 11775,
    images_per_second: 170.4,
    eta_seconds: 7500,
    ...overrides,
  };
}
