import { describe, expect, it } from "vitest";
import { duration, fmt, modeName } from "./format";

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
  });

  it("says how long an upload is kept", () => {
    expect(duration(86_400)).toBe("24 hours");
    expect(duration(3_000)).toBe("50 minutes");
    expect(duration(61)).toBe("61 seconds");
    expect(duration(1)).toBe("1 second");
  });
});
