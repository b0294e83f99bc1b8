/**
 * Which modes of a head the upload page removes (docs/method.md#removing-modes), as the address keeps it:
 * `remove=0,3` (those modes) or `keep=k` (every active mode but the k of largest σ).
 */

export type AblationChoice = { kind: "remove"; modes: number[] } | { kind: "keepTop"; k: number };

const MODE_LIST = /^\d{1,6}(,\d{1,6}){0,999}$/;

/** The choice in the query string; null when there is none or it is malformed (the panel then starts empty). */
export function parseAblation(search: URLSearchParams): AblationChoice | null {
  const remove = search.get("remove");
  const keep = search.get("keep");
  if (remove !== null && MODE_LIST.test(remove)) {
    return { kind: "remove", modes: [...new Set(remove.split(",").map(Number))].sort((a, b) => a - b) };
  }
  if (keep !== null && /^\d{1,6}$/.test(keep)) return { kind: "keepTop", k: Number(keep) };
  return null;
}

/** Writes `choice` into `params` (`remove` or `keep`; nothing for null or an empty set). */
export function setAblationParams(params: URLSearchParams, choice: AblationChoice | null | undefined): void {
  if (!choice) return;
  if (choice.kind === "keepTop") params.set("keep", String(choice.k));
  else if (choice.modes.length > 0) params.set("remove", choice.modes.join(","));
}

/** The API's query for `choice`: `remove` or `keep_top`. */
export function ablationQuery(choice: AblationChoice): { remove: string } | { keep_top: number } {
  return choice.kind === "keepTop" ? { keep_top: choice.k } : { remove: choice.modes.join(",") };
}

/** `modes` with `mode` added or taken out, ascending. */
export function toggleMode(modes: number[], mode: number): number[] {
  return modes.includes(mode) ? modes.filter((m) => m !== mode) : [...modes, mode].sort((a, b) => a - b);
}

/** Whether there is anything to remove: a non-empty set, or a `keepTop` choice (the server says if it removes none). */
export function isRunnable(choice: AblationChoice | null): choice is AblationChoice {
  return choice !== null && (choice.kind === "keepTop" || choice.modes.length > 0);
}
