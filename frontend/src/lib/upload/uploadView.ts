/** The upload page's view (model, layer, head, basis, query patch, overlay options), kept in the query string. */
import type { Basis, ModelSummary, RankedMode } from "../../api/client";
import { type OverlayOptions, parseOverlayOptions } from "../mode/overlay";
import { checkPosition, resolveModelName, segmentFormats } from "../address/modelAddress";
import { parseBasis, parseIndexParam, parseSign, type SignedMode } from "../address/paths";
import { type AblationChoice, parseAblation } from "./ablation";

export interface UploadViewState {
  model: ModelSummary;
  layer: number;
  head: number;
  basis: Basis;
  patch: number | null;
  options: OverlayOptions;
  /** The head's signed mode to mark in the ranking (`?mode=&sign=`: the mode page the view came from). */
  highlight: SignedMode | null;
  /** The head's modes the "Remove modes" panel removes (`?remove=0,3` or `?keep=k`). */
  ablation: AblationChoice | null;
}

/** Why the view's model, layer or head names nothing (the page says so rather than show another head). */
export interface UploadViewProblem {
  problem: string;
  exists: string;
  /** Atlases an ambiguous model name answers to. */
  candidates: ModelSummary[];
}

/** What is wrong with the query's `model`, `layer` or `head` (by the address rules of lib/address); null when nothing. */
export function uploadViewProblem(search: URLSearchParams, models: ModelSummary[]): UploadViewProblem | null {
  const name = search.get("model");
  let model = models[0];
  if (name !== null) {
    const match = resolveModelName(name, models);
    if (match.kind === "unknown") {
      const served = models.map((m) => m.model_id).join(", ");
      return { problem: `No model “${name}” is served here.`, exists: `Served: ${served}.`, candidates: [] };
    }
    if (match.kind === "ambiguous") {
      return {
        problem: `“${name}” names ${match.matches.length} served atlases.`,
        exists: "Pick one:",
        candidates: match.matches,
      };
    }
    model = match.model;
  }
  if (!model) return null;
  for (const key of ["layer", "head"] as const) {
    const raw = search.get(key);
    if (raw !== null && parseIndexParam(raw) === null) {
      return { problem: `“${raw}” is not a ${key} number.`, exists: segmentFormats(model), candidates: [] };
    }
  }
  const outOfRange = checkPosition(model, {
    layer: parseIndexParam(search.get("layer")),
    head: parseIndexParam(search.get("head")),
    mode: null,
  });
  return outOfRange
    ? { problem: `${outOfRange.problem} (${model.model_id})`, exists: outOfRange.exists, candidates: [] }
    : null;
}

/** Resolves the query string against the served models (any name of lib/address); values that
 * `uploadViewProblem` reports fall back to defaults. */
export function resolveUploadView(search: URLSearchParams, models: ModelSummary[]): UploadViewState | null {
  const name = search.get("model");
  const match = name === null ? null : resolveModelName(name, models);
  const model = (match?.kind === "exact" || match?.kind === "short" ? match.model : undefined) ?? models[0];
  if (!model) return null;
  const clamp = (value: number | null, count: number) => (value !== null && value < count ? value : 0);
  const basis = parseBasis(search.get("basis"));
  const patch = parseIndexParam(search.get("patch"));
  const highlighted = parseIndexParam(search.get("mode"));
  return {
    model,
    layer: clamp(parseIndexParam(search.get("layer")), model.n_layers),
    head: clamp(parseIndexParam(search.get("head")), model.n_heads),
    basis: model.bases.includes(basis) ? basis : "faithful",
    patch: patch !== null && patch < model.grid * model.grid ? patch : null,
    options: parseOverlayOptions(search),
    highlight:
      highlighted !== null && highlighted < model.n_modes
        ? { mode: highlighted, sign: parseSign(search.get("sign")) }
        : null,
    ablation: parseAblation(search),
  };
}

/** Whether a ranked mode is the one the view marks. */
export function isHighlighted(ranked: RankedMode, highlight: SignedMode | null): boolean {
  return highlight !== null && ranked.mode === highlight.mode && ranked.sign === highlight.sign;
}

/** Where the marked mode is in a ranking; -1 when it is not ranked there (or none is marked). */
export function highlightedIndex(ranked: RankedMode[], highlight: SignedMode | null): number {
  return ranked.findIndex((m) => isHighlighted(m, highlight));
}
