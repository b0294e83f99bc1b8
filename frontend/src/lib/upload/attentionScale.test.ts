import { describe, expect, it } from "vitest";
import { divergingHeatColor } from "../charts/color";
import { attentionScaleTicks, probabilityLabel, rowSpread, uniformLogRatio } from "./attentionScale";

const alpha = (colour: string) => Number(/,\s*([\d.]+)\)$/.exec(colour)?.[1]);

describe("the attention colour scale", () => {
  it("draws a uniform row at the neutral level, transparent, whatever N", () => {
    for (const keys of [5, 65, 197]) {
      expect(uniformLogRatio(1 / keys, keys)).toBeCloseTo(0);
      expect(alpha(divergingHeatColor(uniformLogRatio(1 / keys, keys)))).toBe(0);
    }
  });

  it("keeps near-uniform attention near neutral (max 0.020 where uniform is 1/64 ≈ 0.016)", () => {
    const position = uniformLogRatio(0.02, 64);
    expect(position).toBeGreaterThan(0);
    expect(position).toBeLessThan(0.1);
    expect(alpha(divergingHeatColor(position))).toBeLessThan(0.07);
  });

  it("saturates a one-hot row: its key at +1 (magenta), the others at −1 (darkened)", () => {
    expect(uniformLogRatio(1, 65)).toBe(1);
    expect(uniformLogRatio(0, 65)).toBe(-1);
    expect(divergingHeatColor(1)).toBe("rgba(255, 0, 170, 0.700)");
    expect(divergingHeatColor(-1)).toBe("rgba(0, 0, 0, 0.700)");
  });

  it("is a log scale: k times uniform sits as far above 1/N as 1/k of it sits below", () => {
    expect(uniformLogRatio(4 / 65, 65)).toBeCloseTo(-uniformLogRatio(1 / (4 * 65), 65));
  });

  it("ticks 1/N², the uniform level 1/N (marked, at the middle) and 1", () => {
    const ticks = attentionScaleTicks(64);
    expect(ticks.map((t) => t.probability)).toEqual([1 / 4096, 1 / 64, 1]);
    expect(ticks.map((t) => t.at)).toEqual([0, 0.5, 1]);
    expect(ticks.map((t) => t.uniform)).toEqual([false, true, false]);
    expect(ticks.map((t) => probabilityLabel(t.probability))).toEqual(["0.00024", "0.016", "1"]);
  });
});

describe("the spread of an attention row", () => {
  it("matches a hand computation", () => {
    // H = −(½ ln ½ + 2 · ¼ ln ¼) = 1.5 ln 2 ≈ 1.0397 nats; exp(H) = 2^1.5 ≈ 2.828 keys.
    const spread = rowSpread([0.5, 0.25, 0.25, 0]);
    expect(spread.entropy).toBeCloseTo(1.5 * Math.LN2, 12);
    expect(spread.effectiveKeys).toBeCloseTo(2 ** 1.5, 12);
    expect(spread.keys).toBe(4);
  });

  it("is N keys for a uniform row and 1 for a one-hot row", () => {
    expect(rowSpread(Array<number>(10).fill(0.1)).effectiveKeys).toBeCloseTo(10, 12);
    expect(rowSpread([0, 1, 0]).effectiveKeys).toBe(1);
  });
});
