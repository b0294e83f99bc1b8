/** The upload page's view (model, layer, head, basis, query patch, overlay options), kept in the query string. */
import type { Basis, ModelSummary } from "../../api/client";
import { type OverlayOptions, parseOverlayOptions } from "../mode/overlay";
import { parseBasis, parseIndexParam } from "../address/paths";

export interface UploadViewState {
  model: ModelSummary;
  layer: number;
  head: number;
  basis: Basis;
  patch: number | null;
  options: OverlayOptions;
}

/** Resolves the query string against the served models; out-of-range values fall back to defaults. */
export function resolveUploadView(search: URLSearchParams, models: ModelSummary[]): UploadViewState | null {
  const model = models.find((m) => m.slug === search.get("model")) ?? models[0];
  if (!model) return null;
  const clamp = (value: number | null, count: number) => (value !== null && value < count ? value : 0);
  const basis = parseBasis(search.get("basis"));
  const patch = parseIndexParam(search.get("patch"));
  return {
    model,
    layer: clamp(parseIndexParam(search.get("layer")), model.n_layers),
    head: clamp(parseIndexParam(search.get("head")), model.n_heads),
    basis: model.bases.includes(basis) ? basis : "faithful",
    patch: patch !== null && patch < model.grid * model.grid ? patch : null,
    options: parseOverlayOptions(search),
  };
}
