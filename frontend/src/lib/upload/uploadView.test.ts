import { describe, expect, it } from "vitest";
import { uploadPath } from "../address/paths";
import { modelSummary, uploadHeadModes } from "../../test/fixtures";
import { highlightedIndex, resolveUploadView } from "./uploadView";

describe("the marked mode of an upload view", () => {
  const models = [modelSummary()];
  const resolve = (path: string) => resolveUploadView(new URL(path, "http://x").searchParams, models)!;

  it("round-trips through the address as ?mode=&sign=", () => {
    const path = uploadPath("abc", {
      model: "planted__shapes",
      layer: 0,
      head: 0,
      highlight: { mode: 2, sign: "neg" },
    });
    expect(path).toBe("/upload/abc?model=planted__shapes&layer=0&head=0&mode=2&sign=neg");
    expect(resolve(path).highlight).toEqual({ mode: 2, sign: "neg" });
  });

  it("is none without a mode, or with one the head does not have", () => {
    expect(resolve("/upload/abc?model=planted__shapes").highlight).toBeNull();
    expect(resolve("/upload/abc?model=planted__shapes&mode=999999").highlight).toBeNull();
  });

  it("is found in the ranking by mode and sign", () => {
    const ranked = uploadHeadModes().modes;
    expect(highlightedIndex(ranked, { mode: 0, sign: "pos" })).toBe(1);
    expect(highlightedIndex(ranked, { mode: 0, sign: "neg" })).toBe(-1);
    expect(highlightedIndex(ranked, null)).toBe(-1);
  });
});
