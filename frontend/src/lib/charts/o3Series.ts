/** Depth-curve series of the odd-one-out results (paper Fig. 2): shares of a query's attention per layer. */
import type { O3Result } from "../../api/client";
import type { DepthSeries } from "../../components/charts/DepthChart";

export type O3Query = "target_query" | "distractor_query";
export type O3Region = "same_object" | "different_object" | "background";

export const O3_QUERIES: { value: O3Query; label: string }[] = [
  { value: "target_query", label: "target query" },
  { value: "distractor_query", label: "distractor query" },
];

export const O3_REGIONS: { value: O3Region; label: string }[] = [
  { value: "same_object", label: "same object" },
  { value: "different_object", label: "different object" },
  { value: "background", label: "background" },
];

/** One share across depth (layer means over heads and images), with its uniform-attention level. */
export function o3Series(result: O3Result, query: O3Query, region: O3Region, label: string, id = label): DepthSeries {
  return {
    id,
    label,
    points: result.layers.map((l) => ({ layer: l.layer, depth: l.normalized_depth, value: l[query].mean[region] })),
    chance: result.chance[query][region],
  };
}

/** The three curves of one query: same object, different object, background. */
export function o3QuerySeries(result: O3Result, query: O3Query): DepthSeries[] {
  return O3_REGIONS.map(({ value, label }) => o3Series(result, query, value, label));
}
