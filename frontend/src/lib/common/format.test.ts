import { describe, expect, it } from "vitest";
import { count, duration, fmt, integer, modeName, plural } from "./format";

describe("format", () => {
  it("names modes the paper's way, 0-based", () => {
    expect(modeName(8, 9, 2)).toBe("L8 H9 M2");
    expect(modeName(0, 3)).toBe("L0 H3");
  });

  it("formats numbers, and missing values as a dash", () => {
    expect(fmt(0.12345)).toBe("0.123");
    expect(fmt(null)).toBe("–");
    expect(fmt(Number.NaN)).toBe("–");
    expect(fmt(2.5e-7)).toBe("2.50e-7");
    expect(fmt(1234.5678)).toBe("1,234.568");
    expect(fmt(-0.5, 2)).toBe("-0.50");
    expect(fmt(-0)).toBe("0.000");
  });

  it("writes counts with thousands separators", () => {
    expect(integer(1000)).toBe("1,000");
    expect(integer(50_000)).toBe("50,000");
    expect(integer(1_281_167)).toBe("1,281,167");
    expect(integer(999)).toBe("999");
    expect(integer(0)).toBe("0");
  });

  it("names one thing in the singular and any other number in the plural", () => {
    expect(count(1, "image")).toBe("1 image");
    expect(count(0, "image")).toBe("0 images");
    expect(count(2, "image")).toBe("2 images");
    expect(count(1000, "image")).toBe("1,000 images");
    expect(count(3, "served atlas", "served atlases")).toBe("3 served atlases");
    expect(plural(1, "is", "are")).toBe("is");
    expect(plural(4, "is", "are")).toBe("are");
  });

  it("says how long an upload is kept", () => {
    expect(duration(86_400)).toBe("24 hours");
    expect(duration(3_000)).toBe("50 minutes");
    expect(duration(61)).toBe("61 seconds");
    expect(duration(1)).toBe("1 second");
  });
});
