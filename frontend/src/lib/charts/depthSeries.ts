/** Builds the depth-curve series of the home and model charts from model details. */
import { parseEnum } from "../../api/enums";
import type { DepthSeries } from "../../components/charts/DepthChart";

export type CurveVariant = "weighted" | "unweighted" | "scaled";

export const CURVE_VARIANTS: { value: CurveVariant; label: string; axis: string }[] = [
  { value: "weighted", label: "σ-weighted cosine", axis: "weighted cosine" },
  { value: "unweighted", label: "unweighted mean cosine", axis: "mean cosine" },
  { value: "scaled", label: "released-code variant (÷ d_head)", axis: "weighted cosine ÷ d_head" },
];

const DEFAULT_VARIANT: CurveVariant = "weighted";

/** The curve a page's query string asks for (`?quantity=`); the σ-weighted one when absent or unknown. */
export function parseCurveVariant(search: URLSearchParams): CurveVariant {
  return parseEnum(
    CURVE_VARIANTS.map((v) => v.value),
    search.get("quantity"),
    DEFAULT_VARIANT,
  );
}

/** `search` with the curve in it; the default leaves the address without `quantity` (short links stay short). */
export function setCurveVariant(search: URLSearchParams, variant: CurveVariant): URLSearchParams {
  const next = new URLSearchParams(search);
  if (variant === DEFAULT_VARIANT) next.delete("quantity");
  else next.set("quantity", variant);
  return next;
}

export interface CurveSource {
  slug: string;
  label: string;
  d_head: number;
  baseline_95: number;
  /** A cosine is null for a layer without an active head: the curve has a gap there. */
  layers: {
    layer: number;
    normalized_depth: number;
    weighted_cos: number | null;
    unweighted_cos: number | null;
    weighted_cos_scaled: number | null;
  }[];
}

export function depthSeries(source: CurveSource, variant: CurveVariant): DepthSeries {
  const pick = {
    weighted: (l: CurveSource["layers"][number]) => l.weighted_cos,
    unweighted: (l: CurveSource["layers"][number]) => l.unweighted_cos,
    scaled: (l: CurveSource["layers"][number]) => l.weighted_cos_scaled,
  }[variant];
  return {
    id: source.slug,
    label: source.label,
    points: source.layers.map((l) => ({ layer: l.layer, depth: l.normalized_depth, value: pick(l) })),
    // The released-code variant divides the cosine by d_head; its band scales the same way.
    baseline: variant === "scaled" ? source.baseline_95 / source.d_head : source.baseline_95,
  };
}
