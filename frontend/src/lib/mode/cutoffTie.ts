/**
 * What a mode page says when its last places tie with the best image left out of its top images at the
 * atlas's precision (docs/method.md#ties-at-the-cut-off).
 */
import type { CutoffTie } from "../../api/client";

/** "bf16", ... or "this atlas's precision" when it was not recorded. */
export function precisionName(precision: CutoffTie["precision"]): string {
  return precision ?? "this atlas's precision";
}

/**
 * The sentence for the places of `tie` among the `listed` top images (ranks 0 … listed − 1), e.g. "Places
 * 15–16 and the next image tie at bf16: their order is not meaningful."; null when no listed place ties.
 */
export function cutoffTieText(tie: CutoffTie | null | undefined, listed: number): string | null {
  if (!tie || tie.first_rank >= listed) return null;
  const first = tie.first_rank + 1;
  const last = Math.min(tie.last_rank, listed - 1) + 1;
  const places = first === last ? `Place ${first}` : `Places ${first}–${last}`;
  const unlisted = tie.last_rank >= listed ? " (and the places after them, not listed)" : "";
  return `${places}${unlisted} and the next image tie at ${precisionName(tie.precision)}: their order is not meaningful.`;
}
