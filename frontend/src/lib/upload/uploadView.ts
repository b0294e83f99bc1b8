/** The upload page's view (model, layer, head, basis, query patch, overlay options), kept in the query string. */
import type { Basis, ModelSummary, RankedMode } from "../../api/client";
import { type OverlayOptions, parseOverlayOptions } from "../mode/overlay";
import { parseBasis, parseIndexParam, parseSign, type SignedMode } from "../address/paths";

export interface UploadViewState {
  model: ModelSummary;
  layer: number;
  head: number;
  basis: Basis;
  patch: number | null;
  options: OverlayOptions;
  /** The head's signed mode to mark in the ranking (`?mode=&sign=`: the mode page the view came from). */
  highlight: SignedMode | null;
}

/** Resolves the query string against the served models; out-of-range values fall back to defaults. */
export function resolveUploadView(search: URLSearchParams, models: ModelSummary[]): UploadViewState | null {
  const model = models.find((m) => m.slug === search.get("model")) ?? models[0];
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
