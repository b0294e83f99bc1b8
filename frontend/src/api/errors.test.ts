import { describe, expect, it } from "vitest";
import { apiErrorMessage } from "./errors";

describe("API error messages", () => {
  it("shows the API's own message", () => {
    expect(apiErrorMessage({ detail: "not a supported raster image" }, 415)).toBe("not a supported raster image");
  });

  it("summarizes validation errors", () => {
    expect(apiErrorMessage({ detail: [{ loc: ["query", "sign"], msg: "Input should be 'pos' or 'neg'" }] }, 422)).toBe(
      "query.sign: Input should be 'pos' or 'neg'",
    );
  });

  it("falls back to the status, or to a network message", () => {
    expect(apiErrorMessage(undefined, 502)).toMatch(/HTTP 502/);
    expect(apiErrorMessage(undefined)).toMatch(/could not be reached/);
  });
});
