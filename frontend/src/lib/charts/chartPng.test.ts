import { describe, expect, it } from "vitest";
import { chartPng, placeLegend } from "./chartPng";

describe("placeLegend", () => {
  // Each entry takes 18 (icon) + its label + 16 (gap): 44 for a 10-wide label.
  const entries = ["a", "b", "c"].map((label) => ({ label, colour: "red" }));
  const measure = () => 10;

  it("lays the entries out left to right", () => {
    expect(placeLegend(entries, measure, 500).map(({ x, row }) => [x, row])).toEqual([
      [0, 0],
      [44, 0],
      [88, 0],
    ]);
  });

  it("wraps an entry that does not fit, but never leaves a row empty", () => {
    expect(placeLegend(entries, measure, 100).map(({ x, row }) => [x, row])).toEqual([
      [0, 0],
      [44, 0],
      [0, 1],
    ]);
    expect(placeLegend(entries, measure, 10).map(({ row }) => row)).toEqual([0, 1, 2]);
  });
});

describe("chartPng", () => {
  it("refuses a container without a drawn chart", async () => {
    const container = document.createElement("div");
    await expect(chartPng(container, "title")).rejects.toThrow("the chart has not been drawn yet");
  });
});
