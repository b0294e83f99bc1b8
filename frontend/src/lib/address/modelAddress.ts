/**
 * Which served atlas a `/m/{model}/…` address names, and whether its layer, head and mode exist: checked
 * against the model list before a page renders any control, so that a wrong address gets a not-found
 * page saying what does exist instead of a page of live controls around an error.
 */
import type { ModelSummary } from "../../api/client";
import { count } from "../common/format";

export type ModelMatch =
  /** The address names the atlas by its slug: the canonical address. */
  | { kind: "exact"; model: ModelSummary }
  /** A short name (model slug, model id or a slug prefix) that names exactly one atlas. */
  | { kind: "short"; model: ModelSummary }
  /** A short name that several atlases answer to. */
  | { kind: "ambiguous"; matches: ModelSummary[] }
  | { kind: "unknown" };

/**
 * Resolves the `{model}` part of an address. The slug (`<model slug>__<dataset>`) is canonical; short
 * names are tried in order of precision, so an exact model slug or id wins over a prefix of some
 * longer slug: the model slug, the model id, then a prefix of the slug.
 */
export function resolveModelName(name: string, models: readonly ModelSummary[]): ModelMatch {
  const exact = models.find((m) => m.slug === name);
  if (exact) return { kind: "exact", model: exact };
  if (name === "") return { kind: "unknown" };
  const tiers = [
    models.filter((m) => m.model_slug === name || m.model_id === name),
    models.filter((m) => m.slug.startsWith(name)),
  ];
  for (const matches of tiers) {
    const [only] = matches;
    if (matches.length === 1 && only) return { kind: "short", model: only };
    if (matches.length > 1) return { kind: "ambiguous", matches };
  }
  return { kind: "unknown" };
}

/** The canonical form of `pathname` (which starts `/m/{name}`): the same address with the atlas's slug. */
export function canonicalModelPath(pathname: string, slug: string): string {
  const match = /^\/m\/[^/]*(.*)$/.exec(pathname);
  return `/m/${encodeURIComponent(slug)}${match?.[1] ?? ""}`;
}

export interface Position {
  layer: number | null;
  head: number | null;
  mode: number | null;
}

type Shape = Pick<ModelSummary, "n_layers" | "n_heads" | "n_modes">;

export interface OutOfRange {
  /** What is wrong, e.g. "There is no layer 99." */
  problem: string;
  /** What exists, e.g. "This model has 12 layers, L0–L11." */
  exists: string;
  /** The nearest valid address's position (each index clamped into its range). */
  nearest: Position;
}

/** The first index of `position` outside the model's range, with what exists; null when all are valid. */
export function checkPosition(shape: Shape, position: Position): OutOfRange | null {
  const clamp = (value: number | null, n: number) => (value === null ? null : Math.min(value, n - 1));
  const nearest: Position = {
    layer: clamp(position.layer, shape.n_layers),
    head: clamp(position.head, shape.n_heads),
    mode: clamp(position.mode, shape.n_modes),
  };
  const { layer, head, mode } = position;
  if (layer !== null && layer >= shape.n_layers) {
    return {
      problem: `There is no layer ${layer}.`,
      exists: `This model has ${count(shape.n_layers, "layer")}, L0–L${shape.n_layers - 1}.`,
      nearest,
    };
  }
  if (head !== null && head >= shape.n_heads) {
    return {
      problem: `There is no head ${head}.`,
      exists: `This model has ${count(shape.n_heads, "head")} per layer, H0–H${shape.n_heads - 1}.`,
      nearest,
    };
  }
  if (mode !== null && mode >= shape.n_modes) {
    return {
      problem: `There is no mode ${mode}.`,
      exists: `This model has ${count(shape.n_modes, "mode")} per head, M0–M${shape.n_modes - 1}.`,
      nearest,
    };
  }
  return null;
}

/** What a malformed segment (`Lfoo`) should look like, for the not-found page. */
export function segmentFormats(shape: Shape): string {
  return (
    `Layers, heads and modes are written L0–L${shape.n_layers - 1}, H0–H${shape.n_heads - 1} and ` +
    `M0–M${shape.n_modes - 1}, as in /m/<model>/L0/H0/M0.`
  );
}
