import { describe, expect, it } from "vitest";
import { modelSummary } from "../../test/fixtures";
import { accessDate, citationLine } from "./citation";

const URL_ = "https://qk.example/m/planted__shapes/L1/H2/M3?sign=neg&basis=exact";
// Noon local time: the same calendar day in every time zone the test may run in.
const READ = new Date(2026, 11, 7, 12, 0, 0);

describe("citation line", () => {
  it("names the model, weights, atlas revision, dataset, position, address and the day it was read", () => {
    const model = modelSummary({
      weights_revision: "a1b2c3",
      dataset: { name: "imagenet-val", n_images: 50000, n_skipped: 0 },
    });
    expect(
      citationLine({ model, layer: 1, head: 2, mode: 3, sign: "neg", basis: "exact" }, URL_, READ, {
        title: "qkatlas",
        version: "0.1.0",
      }),
    ).toBe(
      "mode L1 H2 M3 (sign neg, basis exact) of planted-vit (weights revision a1b2c3); qkatlas 0.1.0, atlas " +
        `revision 0123456789abcdef, dataset imagenet-val (50,000 images). ${URL_} (accessed 2026-12-07).`,
    );
  });

  it("says when the weights revision was not recorded, and cites a head without mode or sign", () => {
    const line = citationLine(
      { model: modelSummary(), layer: 0, head: 1, mode: null, sign: null, basis: "faithful" },
      "https://qk.example/m/planted__shapes/L0/H1?basis=faithful",
      READ,
      null,
    );
    expect(line).toBe(
      "head L0 H1 (basis faithful) of planted-vit (weights revision not recorded); qkatlas, atlas revision " +
        "0123456789abcdef, dataset shapes (10 images). https://qk.example/m/planted__shapes/L0/H1?basis=faithful " +
        "(accessed 2026-12-07).",
    );
  });

  it("writes the access date as YYYY-MM-DD with zero padding", () => {
    expect(accessDate(new Date(2027, 0, 5, 12))).toBe("2027-01-05");
  });
});
