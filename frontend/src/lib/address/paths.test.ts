import { describe, expect, it } from "vitest";
import {
  classPath,
  headPath,
  modeIndexPath,
  modelPath,
  modePath,
  parseBasis,
  parseIndexParam,
  parseIndexSegment,
  parseSign,
  searchPath,
  uploadPath,
} from "./paths";

describe("paths", () => {
  it("builds the URL of every view", () => {
    expect(modelPath("vit-b__imagenet")).toBe("/m/vit-b__imagenet");
    expect(headPath("m", 8, 9)).toBe("/m/m/L8/H9");
    expect(modePath("m", 8, 9, 2, { sign: "neg", basis: "exact" })).toBe("/m/m/L8/H9/M2?sign=neg&basis=exact");
    expect(modeIndexPath("m")).toBe("/m/m/modes");
    expect(modeIndexPath("m", "?sort=sigma")).toBe("/m/m/modes?sort=sigma");
    expect(classPath("golden retriever")).toBe("/classes/golden%20retriever");
    expect(classPath("a/b")).toBe("/classes/a%2Fb");
    expect(searchPath("L6 H2 & co")).toBe("/search?q=L6+H2+%26+co");
    expect(uploadPath()).toBe("/upload");
    expect(uploadPath("abc", { model: "m", layer: 0, head: 3, basis: "exact", patch: 5 })).toBe(
      "/upload/abc?model=m&layer=0&head=3&basis=exact&patch=5",
    );
  });

  it("parses prefixed segments and rejects malformed ones", () => {
    expect(parseIndexSegment("L8", "L")).toBe(8);
    expect(parseIndexSegment("L0", "L")).toBe(0);
    expect(parseIndexSegment("H8", "L")).toBeNull();
    expect(parseIndexSegment("L-1", "L")).toBeNull();
    expect(parseIndexSegment("L8x", "L")).toBeNull();
    expect(parseIndexSegment(undefined, "L")).toBeNull();
    expect(parseIndexParam("12")).toBe(12);
    expect(parseIndexParam("1.5")).toBeNull();
    expect(parseIndexParam(null)).toBeNull();
  });

  it("defaults sign and basis", () => {
    expect(parseSign("neg")).toBe("neg");
    expect(parseSign("bogus")).toBe("pos");
    expect(parseBasis("exact")).toBe("exact");
    expect(parseBasis(null)).toBe("faithful");
  });
});
