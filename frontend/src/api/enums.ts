/**
 * The API's enums as lists, for what needs their values at run time (parsing URLs, controls). Their
 * types come from the generated schema, and each list must name exactly the members of its enum:
 * tsc fails here when the backend's enum gains or loses a value.
 */
import type { Basis, Channel, ModeSortKey, Palette, Sign, SortOrder } from "./client";

/** `values`, typed as given, when they are exactly the members of `T`; a type error otherwise. */
function allValues<T extends string>() {
  return <const V extends readonly T[]>(
    values: V & ([Exclude<T, V[number]>] extends [never] ? unknown : { missing: Exclude<T, V[number]> }),
  ): V => values;
}

export const BASES = allValues<Basis>()(["faithful", "exact"]);
export const SIGNS = allValues<Sign>()(["pos", "neg"]);
export const CHANNELS = allValues<Channel>()(["both", "query", "key"]);
export const PALETTES = allValues<Palette>()(["red_cyan", "orange_blue"]);
export const MODE_SORT_KEYS = allValues<ModeSortKey>()([
  "position",
  "sigma",
  "sigma_share",
  "cos",
  "best_score",
  "mean",
  "std",
  "firing",
  "selectivity",
  "effect",
]);
export const SORT_ORDERS = allValues<SortOrder>()(["asc", "desc"]);

/** `value` when it is one of `values`, else `fallback`. */
export function parseEnum<T extends string>(values: readonly T[], value: string | null, fallback: T): T {
  return values.find((v) => v === value) ?? fallback;
}
