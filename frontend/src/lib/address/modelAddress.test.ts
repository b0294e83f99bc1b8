import { describe, expect, it } from "vitest";
import { modelSummary } from "../../test/fixtures";
import { canonicalModelPath, checkPosition, resolveModelName, resolveModelPath, segmentFormats } from "./modelAddress";
import nameCases from "./modelNameCases.json";

const planted = modelSummary({ slug: "planted__shapes", model_slug: "planted", model_id: "planted" });
const vitOnA = modelSummary({ slug: "tiny-vit__a", model_slug: "tiny-vit", model_id: "timm/tiny_vit" });
const vitOnB = modelSummary({ slug: "tiny-vit__b", model_slug: "tiny-vit", model_id: "timm/tiny_vit" });
const plantedFirst = modelSummary({ slug: "planted-first__x", model_slug: "planted-first", model_id: "pf" });
const MODELS = [planted, vitOnA, vitOnB, plantedFirst];

describe("resolveModelName", () => {
  it("takes the slug as the canonical name", () => {
    expect(resolveModelName("tiny-vit__b", MODELS)).toEqual({ kind: "exact", model: vitOnB });
  });

  it("resolves a model slug or id that one atlas has, before any prefix", () => {
    // "planted" is also a prefix of planted-first__x: the exact model slug wins.
    expect(resolveModelName("planted", MODELS)).toEqual({ kind: "short", model: planted });
    expect(resolveModelName("pf", MODELS)).toEqual({ kind: "short", model: plantedFirst });
  });

  it("resolves a unique slug prefix", () => {
    expect(resolveModelName("planted-f", MODELS)).toEqual({ kind: "short", model: plantedFirst });
    expect(resolveModelName("tiny-vit__a", MODELS)).toEqual({ kind: "exact", model: vitOnA });
  });

  it("lists every atlas a shared name or prefix matches", () => {
    expect(resolveModelName("tiny-vit", MODELS)).toEqual({ kind: "ambiguous", matches: [vitOnA, vitOnB] });
    expect(resolveModelName("timm/tiny_vit", MODELS)).toEqual({ kind: "ambiguous", matches: [vitOnA, vitOnB] });
    expect(resolveModelName("tiny", MODELS)).toEqual({ kind: "ambiguous", matches: [vitOnA, vitOnB] });
  });

  it("knows no other name", () => {
    expect(resolveModelName("resnet", MODELS)).toEqual({ kind: "unknown" });
    expect(resolveModelName("", MODELS)).toEqual({ kind: "unknown" });
    expect(resolveModelName("planted", [])).toEqual({ kind: "unknown" });
  });
});

describe("the name rule shared with the server (modelNameCases.json)", () => {
  const atlases = nameCases.atlases.map((a) => modelSummary(a));
  it.each(nameCases.cases)("$why: “$name”", ({ name, atlases: expected }) => {
    const match = resolveModelName(name, atlases);
    const found = match.kind === "unknown" ? [] : match.kind === "ambiguous" ? match.matches : [match.model];
    expect(found.map((m) => m.slug)).toEqual(expected);
  });
});

describe("resolveModelPath", () => {
  const dino = modelSummary({
    slug: "facebook--dino-vits16__imagenet-val",
    model_slug: "facebook--dino-vits16",
    model_id: "facebook/dino-vits16",
  });
  const models = [planted, dino];

  it("reads the short name search shows, and keeps the rest of the path", () => {
    expect(resolveModelPath("/m/dino-vits16/L3/H2/M0", models)).toEqual({
      match: { kind: "short", model: dino },
      name: "dino-vits16",
      rest: "/L3/H2/M0",
    });
  });

  it("reads a model id written as two segments, before its first segment as a slug prefix", () => {
    // "facebook" alone is a prefix of the dino slug: the two-segment id must win, or L3 would be "dino-vits16".
    expect(resolveModelPath("/m/facebook/dino-vits16/L3/H2/M0", models)).toMatchObject({
      match: { kind: "short", model: dino },
      rest: "/L3/H2/M0",
    });
    expect(resolveModelPath("/m/facebook%2Fdino-vits16/modes", models)).toMatchObject({
      match: { kind: "short", model: dino },
      rest: "/modes",
    });
  });

  it("names the unknown model as written", () => {
    expect(resolveModelPath("/m/res%20net/L0", models)).toEqual({
      match: { kind: "unknown" },
      name: "res net",
      rest: "/L0",
    });
  });
});

describe("canonicalModelPath", () => {
  it("puts the slug before the rest of the path", () => {
    expect(canonicalModelPath("planted__shapes", "/L0/H0/M0")).toBe("/m/planted__shapes/L0/H0/M0");
    expect(canonicalModelPath("planted__shapes", "")).toBe("/m/planted__shapes");
    expect(canonicalModelPath("tiny-vit__a", "/modes")).toBe("/m/tiny-vit__a/modes");
  });
});

describe("checkPosition", () => {
  const shape = { n_layers: 12, n_heads: 6, n_modes: 64 };

  it("accepts every index in range, and a page without some of them", () => {
    expect(checkPosition(shape, { layer: 11, head: 5, mode: 63 })).toBeNull();
    expect(checkPosition(shape, { layer: 0, head: 0, mode: null })).toBeNull();
  });

  it("says what exists for a layer, a head or a mode out of range, and the nearest valid position", () => {
    expect(checkPosition(shape, { layer: 99, head: 0, mode: 0 })).toEqual({
      problem: "There is no layer 99.",
      exists: "This model has 12 layers, L0–L11.",
      nearest: { layer: 11, head: 0, mode: 0 },
    });
    expect(checkPosition(shape, { layer: 3, head: 42, mode: null })).toEqual({
      problem: "There is no head 42.",
      exists: "This model has 6 heads per layer, H0–H5.",
      nearest: { layer: 3, head: 5, mode: null },
    });
    expect(checkPosition(shape, { layer: 3, head: 2, mode: 9999 })?.exists).toBe(
      "This model has 64 modes per head, M0–M63.",
    );
    expect(checkPosition(shape, { layer: 3, head: 2, mode: 64 })?.nearest).toEqual({ layer: 3, head: 2, mode: 63 });
  });

  it("speaks of one layer in the singular", () => {
    expect(checkPosition({ n_layers: 1, n_heads: 1, n_modes: 1 }, { layer: 1, head: 0, mode: 0 })?.exists).toBe(
      "This model has 1 layer, L0–L0.",
    );
  });

  it("describes the segment formats", () => {
    expect(segmentFormats(shape)).toContain("L0–L11, H0–H5 and M0–M63");
  });
});
