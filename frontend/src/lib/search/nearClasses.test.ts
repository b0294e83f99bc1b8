import { describe, expect, it } from "vitest";
import { editDistance, nearClasses } from "./nearClasses";

const LABELS = ["golden_retriever", "Labrador_retriever", "goldfish", "tench", "great_white_shark", "tiger_shark"];

describe("editDistance", () => {
  it("counts insertions, deletions and substitutions", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("tench", "tench")).toBe(0);
    expect(editDistance("goldfsh", "goldfish")).toBe(1);
  });
});

describe("nearClasses", () => {
  it("suggests the classes a part of a label names, shortest first", () => {
    expect(nearClasses("retriever", LABELS)).toEqual(["golden_retriever", "Labrador_retriever"]);
    expect(nearClasses("shark", LABELS)).toEqual(["tiger_shark", "great_white_shark"]);
  });

  it("suggests a class whose label the query contains (a plural, an extra word)", () => {
    expect(nearClasses("golden retrievers", LABELS)).toEqual(["golden_retriever"]);
  });

  it("suggests classes a few edits away (typos), closest first", () => {
    expect(nearClasses("goldfsh", LABELS)).toEqual(["goldfish"]);
    expect(nearClasses("tenhc", LABELS)).toEqual(["tench"]);
  });

  it("suggests nothing for an unrelated word, an empty one or the class itself", () => {
    expect(nearClasses("volcano", LABELS)).toEqual([]);
    expect(nearClasses("  ", LABELS)).toEqual([]);
    expect(nearClasses("Golden Retriever", ["golden_retriever"])).toEqual([]);
  });

  it("keeps to the limit", () => {
    expect(nearClasses("e", LABELS, 2)).toHaveLength(2);
  });
});
