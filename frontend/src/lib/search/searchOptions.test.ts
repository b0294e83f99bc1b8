import { describe, expect, it } from "vitest";
import type { NameMatch } from "../../api/client";
import { searchResults } from "../../test/fixtures";
import { nameHref, searchOptions } from "./searchOptions";

const name = (overrides: Partial<NameMatch>): NameMatch => ({
  kind: "model",
  model: "dino__in",
  model_id: "facebook/dino-vitb16",
  dataset: "in",
  layer: null,
  head: null,
  mode: null,
  sign: null,
  title: "dino-vitb16",
  ...overrides,
});

describe("search options", () => {
  it("lead a model, layer, head or mode to its page", () => {
    expect(nameHref(name({}))).toBe("/m/dino__in");
    expect(nameHref(name({ kind: "layer", layer: 6 }))).toBe("/m/dino__in/modes?layer=6");
    expect(nameHref(name({ kind: "head", layer: 6, head: 2 }))).toBe("/m/dino__in/L6/H2");
    expect(nameHref(name({ kind: "mode", layer: 6, head: 2, mode: 3 }))).toBe(
      "/m/dino__in/L6/H2/M3?sign=pos&basis=faithful",
    );
    expect(nameHref(name({ kind: "mode", layer: 6, head: 2, mode: 3, sign: "neg" }))).toBe(
      "/m/dino__in/L6/H2/M3?sign=neg&basis=faithful",
    );
  });

  it("come in groups, names first, and end with the full results", () => {
    const options = searchOptions(searchResults(), "red");
    expect(options.map((o) => [o.group, o.label])).toEqual([
      ["Models, heads and modes", "planted-vit L1 H2 M3"],
      ["Classes", "red square"],
      ["Modes for the class", "planted-vit L0 H1 M2 pos"],
      ["Modes for the class", "planted-vit L1 H0 M0 neg"],
      ["More", "All results for “red”"],
    ]);
    expect(new Set(options.map((o) => o.key)).size).toBe(options.length);
    expect(options.at(-1)!.href).toBe("/search?q=red");
    expect(searchOptions(undefined, "")).toEqual([]);
  });
});
