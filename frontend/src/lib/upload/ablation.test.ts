import { describe, expect, it } from "vitest";
import { uploadPath } from "../address/paths";
import { modelSummary } from "../../test/fixtures";
import { ablationQuery, isRunnable, parseAblation, toggleMode } from "./ablation";
import { resolveUploadView } from "./uploadView";

const parse = (query: string) => parseAblation(new URLSearchParams(query));

describe("the removed modes in the address", () => {
  it("round-trips a mode set as ?remove= (ascending, once each) and keep-top as ?keep=", () => {
    const path = uploadPath("abc", { model: "m", layer: 1, head: 0, ablation: { kind: "remove", modes: [0, 3] } });
    expect(path).toBe("/upload/abc?model=m&layer=1&head=0&remove=0%2C3");
    expect(parse("remove=3,0,3")).toEqual({ kind: "remove", modes: [0, 3] });
    expect(uploadPath("abc", { ablation: { kind: "keepTop", k: 2 } })).toBe("/upload/abc?keep=2");
    expect(parse("keep=2")).toEqual({ kind: "keepTop", k: 2 });
  });

  it("is none when absent, empty or malformed", () => {
    for (const query of ["", "remove=", "remove=a", "remove=-1", "keep=x", "remove=1,,2"]) {
      expect(parse(query)).toBeNull();
    }
    expect(uploadPath("abc", { ablation: { kind: "remove", modes: [] } })).toBe("/upload/abc");
  });

  it("is part of the upload view", () => {
    const view = resolveUploadView(new URLSearchParams("remove=1"), [modelSummary()]);
    expect(view?.ablation).toEqual({ kind: "remove", modes: [1] });
  });
});

describe("choosing modes", () => {
  it("ticks and unticks a mode, keeping the set ascending", () => {
    expect(toggleMode([0, 4], 2)).toEqual([0, 2, 4]);
    expect(toggleMode([0, 2, 4], 2)).toEqual([0, 4]);
  });

  it("runs only with something to remove, and asks the API the same way", () => {
    expect(isRunnable(null)).toBe(false);
    expect(isRunnable({ kind: "remove", modes: [] })).toBe(false);
    expect(isRunnable({ kind: "keepTop", k: 0 })).toBe(true);
    expect(ablationQuery({ kind: "remove", modes: [0, 3] })).toEqual({ remove: "0,3" });
    expect(ablationQuery({ kind: "keepTop", k: 2 })).toEqual({ keep_top: 2 });
  });
});
