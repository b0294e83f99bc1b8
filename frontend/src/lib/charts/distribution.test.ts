import { describe, expect, it } from "vitest";
import { modeDetail } from "../../test/fixtures";
import { barIndex, distributionBars, markX, scoreDomain } from "./distribution";

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

  it("puts a score in its bar, and marks one beyond the edges on its outside bar", () => {
    expect([-3, -1, -0.5, 0, 6.99, 7, 100].map((s) => barIndex(d, s))).toEqual([0, 1, 1, 2, 8, 9, 9]);
    expect([-3, 2.5, 9].map((s) => markX(d, s))).toEqual([-1.5, 2.5, 7.5]);
  });
});
