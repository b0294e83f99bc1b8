import { describe, expect, it } from "vitest";
import { modeDetail } from "../../test/fixtures";
import { barIndex, binnedDomain, distributionBars, markX, scoreDomain } from "./distribution";

const d = modeDetail().distribution!;

describe("score distribution bars", () => {
  it("has the underflow, every bin and the overflow, the outside ones with the extreme they reach", () => {
    const bars = distributionBars(d);
    expect(bars).toHaveLength(10);
    expect(bars[0]).toEqual({ kind: "under", x: -1.5, from: -1.4, to: -1, count: 1, reach: "min -1.40" });
    expect(bars[1]).toEqual({ kind: "bin", x: -0.5, from: -1, to: 0, count: 2, reach: null });
    expect(bars[9]).toEqual({ kind: "over", x: 7.5, from: 7, to: 9, count: 2, reach: "max 9.00" });
    expect(bars.reduce((sum, b) => sum + b.count, 0)).toBe(d.count);
    expect(scoreDomain(d)).toEqual([-2, 8]);
  });

  it("an empty outside bar reaches nothing", () => {
    const bars = distributionBars({ ...d, counts: [0, 2, 1, 1, 1, 0, 1, 1, 0, 0], minimum: -1, maximum: 6.5 });
    expect(bars[0]!.reach).toBeNull();
    expect(bars[9]!.reach).toBeNull();
    expect([bars[0]!.from, bars[9]!.to]).toEqual([-1, 7]);
  });

  it("fits the score axis to the bars that count images, leaving out the empty bins at either end", () => {
    // Scores from 1.2 to 3.5: bins [1, 2), [2, 3) and [3, 4) only; nothing below or beyond the bins.
    const narrow = { ...d, counts: [0, 0, 0, 4, 0, 6, 0, 0, 0, 0], minimum: 1.2, maximum: 3.5 };
    expect(scoreDomain(narrow)).toEqual([1, 4]);
    expect(binnedDomain(narrow)).toEqual([1, 4]);
    // An empty bin between filled ones stays (it is data: no image scored there).
    expect(distributionBars(narrow).filter((b) => b.x > 1 && b.x < 4)).toHaveLength(3);
    // Underflow counts: its bar's place joins the axis, and the ticks stay on the bins.
    const withUnder = { ...narrow, counts: [2, 0, 0, 4, 0, 6, 0, 0, 0, 0], minimum: -5 };
    expect(scoreDomain(withUnder)).toEqual([-2, 4]);
    expect(binnedDomain(withUnder)).toEqual([-1, 4]);
    // A marked score where no image scored (an upload's): its bar joins the axis.
    expect(scoreDomain(narrow, [5.5])).toEqual([1, 6]);
    expect(scoreDomain(narrow, [20])).toEqual([1, 8]);
    expect(binnedDomain(narrow, [20])).toEqual([1, 7]);
    expect(scoreDomain(narrow, [2.5])).toEqual([1, 4]);
    // Nothing scored: every bin, and both outside bars' places.
    expect(scoreDomain({ ...d, count: 0, counts: d.counts.map(() => 0) })).toEqual([-2, 8]);
  });

  it("puts a score in its bar, and marks one beyond the edges on its outside bar", () => {
    expect([-3, -1, -0.5, 0, 6.99, 7, 100].map((s) => barIndex(d, s))).toEqual([0, 1, 1, 2, 8, 9, 9]);
    expect([-3, 2.5, 9].map((s) => markX(d, s))).toEqual([-1.5, 2.5, 7.5]);
  });
});
