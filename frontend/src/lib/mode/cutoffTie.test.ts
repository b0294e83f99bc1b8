import { describe, expect, it } from "vitest";
import type { CutoffTie } from "../../api/client";
import { cutoffTieText } from "./cutoffTie";

const TIE: CutoffTie = {
  first_rank: 14,
  last_rank: 15,
  next_score: 1.5,
  precision: "bf16",
  epsilon: 0.004,
  rule: "a − b ≤ ε·(|a| + |b|)",
};

describe("cutoffTieText", () => {
  it("names the tied last places and the precision", () => {
    expect(cutoffTieText(TIE, 16)).toBe("Places 15–16 and the next image tie at bf16: their order is not meaningful.");
  });

  it("names a single tied place", () => {
    expect(cutoffTieText({ ...TIE, first_rank: 15 }, 16)).toBe(
      "Place 16 and the next image tie at bf16: their order is not meaningful.",
    );
  });

  it("says when tied places are not listed, and says nothing when none is", () => {
    expect(cutoffTieText(TIE, 15)).toBe(
      "Place 15 (and the places after them, not listed) and the next image tie at bf16: their order is not meaningful.",
    );
    expect(cutoffTieText(TIE, 14)).toBeNull();
    expect(cutoffTieText(null, 16)).toBeNull();
  });

  it("names an unrecorded precision in words", () => {
    expect(cutoffTieText({ ...TIE, precision: null }, 16)).toContain("tie at this atlas's precision:");
  });
});
