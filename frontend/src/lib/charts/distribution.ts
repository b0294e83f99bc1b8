/**
 * A mode's score distribution as bars on the score axis (docs/method.md#per-mode-statistics): the
 * fixed bins, and the counts below the first edge (underflow) and from the last edge on (overflow) as
 * one bar each just outside them, labelled with the extreme they reach.
 */
import type { ScoreDistribution } from "../../api/client";
import { fmt } from "../common/format";

/** What the bars need of a histogram with fixed bins: a mode's score (`ScoreDistribution`) or its
 * attention moved (`ModeEffect`) over the dataset. */
export type Histogram = Pick<ScoreDistribution, "count" | "mean" | "std" | "minimum" | "maximum" | "edges" | "counts">;

export type BarKind = "under" | "bin" | "over";

export interface DistributionBar {
  kind: BarKind;
  /** Where the bar stands on the score axis: a bin's middle; the outside bars one bin width beyond the edges. */
  x: number;
  /** The scores the bar counts: [from, to) for a bin; [minimum, first edge) and [last edge, maximum] outside. */
  from: number;
  to: number;
  count: number;
  /** What an outside bar reaches ("min −1.40", "max 9.00"), when it counts any image; else null. */
  reach: string | null;
}

export function binWidth(d: Histogram): number {
  const first = d.edges[0] ?? 0;
  const second = d.edges[1] ?? first + 1;
  return second - first || 1;
}

export function distributionBars(d: Histogram): DistributionBar[] {
  const w = binWidth(d);
  const low = d.edges[0] ?? 0;
  const high = d.edges.at(-1) ?? low;
  const under = d.counts[0] ?? 0;
  const over = d.counts.at(-1) ?? 0;
  const bars: DistributionBar[] = [
    {
      kind: "under",
      x: low - w / 2,
      from: under > 0 ? d.minimum : low,
      to: low,
      count: under,
      reach: under > 0 ? `min ${fmt(d.minimum, 2)}` : null,
    },
  ];
  for (let i = 0; i + 1 < d.edges.length; i++) {
    const from = d.edges[i]!;
    const to = d.edges[i + 1]!;
    bars.push({ kind: "bin", x: (from + to) / 2, from, to, count: d.counts[i + 1] ?? 0, reach: null });
  }
  bars.push({
    kind: "over",
    x: high + w / 2,
    from: high,
    to: over > 0 ? d.maximum : high,
    count: over,
    reach: over > 0 ? `max ${fmt(d.maximum, 2)}` : null,
  });
  return bars;
}

/**
 * The score axis: from the first bar that counts an image to the last. The bins are fixed from a
 * calibration sample, widened beyond its range, so the dataset may leave a long run of them empty at
 * either end; the axis leaves those out. An outside bar is on the axis only when it counts an image.
 * With no image scored, every bin and both outside bars' places. The bars of the `marked` scores
 * (e.g. an upload's, which may fall where no dataset image does) are on the axis too.
 */
export function scoreDomain(d: Histogram, marked: readonly number[] = []): [number, number] {
  const w = binWidth(d);
  const bars = distributionBars(d);
  const filled = bars.filter((b, i) => b.count > 0 || marked.some((score) => barIndex(d, score) === i));
  const first = filled[0] ?? bars[0]!;
  const last = filled.at(-1) ?? bars.at(-1)!;
  return [first.x - w / 2, last.x + w / 2];
}

/** The bins' part of the score axis (where a tick names a score; the outside bars stand beyond it). */
export function binnedDomain(d: Histogram, marked: readonly number[] = []): [number, number] {
  const [lo, hi] = scoreDomain(d, marked);
  return [Math.max(lo, d.edges[0] ?? lo), Math.min(hi, d.edges.at(-1) ?? hi)];
}

/** Where a score is marked: at itself inside the bins, on its outside bar beyond them. */
export function markX(d: Histogram, score: number): number {
  const w = binWidth(d);
  const low = d.edges[0] ?? 0;
  const high = d.edges.at(-1) ?? low;
  if (score < low) return low - w / 2;
  if (score >= high) return high + w / 2;
  return score;
}

/** Which bar a score falls in (its index in `distributionBars`). */
export function barIndex(d: Histogram, score: number): number {
  const low = d.edges[0] ?? 0;
  if (score < low) return 0;
  const n = d.edges.length - 1;
  if (score >= (d.edges.at(-1) ?? low)) return n + 1;
  return 1 + Math.min(n - 1, Math.floor((score - low) / binWidth(d)));
}
