/** An upload's standing in a mode's dataset distribution, in words (docs/method.md#standing-in-the-distribution). */
import type { ScoreStanding } from "../../api/client";
import { count, integer } from "../common/format";

/** A percentage to 0.1 %, rounded towards `direction` so that a claim is never overstated. */
function percentText(value: number, direction: "down" | "up"): string {
  const tenths = direction === "down" ? Math.floor(value * 10 + 1e-9) : Math.ceil(value * 10 - 1e-9);
  return (tenths / 10).toFixed(1);
}

/** "93.4 %", or "93.1–93.6 %" when the stored data leave a range. */
export function standingPercent(standing: ScoreStanding): string {
  const low = percentText(standing.percentile_low, "down");
  return standing.exact ? `${low} %` : `${low}–${percentText(standing.percentile_high, "up")} %`;
}

/** The lead of the sentence ("Higher than 93.4 %" of …): at either end of the dataset, in words. */
export function standingLead(standing: ScoreStanding): string {
  if (standing.exact && standing.below_at_least === 0) return "Not higher than any";
  if (standing.exact && standing.below_at_least === standing.count) return "Higher than all";
  return `Higher than ${standingPercent(standing)}`;
}

/** "the 1,000 images of <dataset>". */
export function datasetImages(standing: ScoreStanding, dataset: string): string {
  return `the ${count(standing.count, "image")} of ${dataset}`;
}

/** How many images score below it, and why a range is one. */
export function belowCount(standing: ScoreStanding): string {
  if (standing.exact) return `${integer(standing.below_at_least)} of them score below it`;
  return (
    `between ${integer(standing.below_at_least)} and ${integer(standing.below_at_most)} of them score below it ` +
    "(the rest of its histogram bin is not stored one by one)"
  );
}

/** Where it would enter the stored top-K, if it would. */
export function topKText(standing: ScoreStanding): string {
  return standing.top_k_rank === null
    ? `below the stored top ${standing.top_k}`
    : `it would rank #${standing.top_k_rank + 1} of the stored top ${standing.top_k}`;
}
