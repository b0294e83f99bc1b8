import { describe, expect, it } from "vitest";
import type { ScoreStanding } from "../../api/client";
import { belowCount, datasetImages, standingLead, standingPercent, topKText } from "./standingWords";

function standing(below: [number, number], count: number, topKRank: number | null = null): ScoreStanding {
  return {
    count,
    below_at_least: below[0],
    below_at_most: below[1],
    exact: below[0] === below[1],
    percentile_low: (100 * below[0]) / count,
    percentile_high: (100 * below[1]) / count,
    top_k_rank: topKRank,
    top_k: 16,
    rule: "",
  };
}

describe("an upload's standing in words", () => {
  it("never rounds a percentile up past what the count says", () => {
    expect(standingPercent(standing([934, 934], 1000))).toBe("93.4 %");
    expect(standingPercent(standing([9999, 9999], 10000))).toBe("99.9 %"); // not 100.0: one image scores higher
    expect(standingPercent(standing([1, 1], 3))).toBe("33.3 %");
    expect(standingPercent(standing([2, 2], 3))).toBe("66.6 %");
    expect(standingPercent(standing([0, 0], 7))).toBe("0.0 %");
  });

  it("gives a range as its widest honest bounds", () => {
    expect(standingPercent(standing([1, 2], 3))).toBe("33.3–66.7 %");
    expect(belowCount(standing([931, 936], 1000))).toMatch(/^between 931 and 936 of them score below it/);
    expect(belowCount(standing([1000, 1000], 1000))).toBe("1,000 of them score below it");
  });

  it("names the dataset and the top-K place", () => {
    expect(datasetImages(standing([0, 0], 50000), "ImageNet val")).toBe("the 50,000 images of ImageNet val");
    expect(topKText(standing([9, 9], 10, 0))).toBe("it would rank #1 of the stored top 16");
    expect(topKText(standing([3, 3], 10))).toBe("below the stored top 16");
  });

  it("says it in words at either end of the dataset", () => {
    expect(standingLead(standing([0, 0], 24))).toBe("Not higher than any");
    expect(standingLead(standing([24, 24], 24))).toBe("Higher than all");
    expect(standingLead(standing([0, 2], 24))).toBe("Higher than 0.0–8.4 %");
    expect(standingLead(standing([23, 23], 24))).toBe("Higher than 95.8 %");
  });
});
