import { describe, expect, it } from "vitest";
import { modeViewSearch, parseModeView } from "./modeView";

describe("mode view in the query string", () => {
  it("round-trips every option and omits defaults", () => {
    const view = parseModeView(new URLSearchParams("sign=neg&basis=exact&channel=key&palette=orange_blue&blend=0.2"));
    expect(view).toEqual({ sign: "neg", basis: "exact", channel: "key", palette: "orange_blue", blend: 0.2 });
    expect(parseModeView(new URLSearchParams(modeViewSearch(view)))).toEqual(view);
    expect(modeViewSearch(parseModeView(new URLSearchParams()))).toBe("?sign=pos&basis=faithful");
  });

  it("falls back to defaults on bad values", () => {
    const view = parseModeView(new URLSearchParams("channel=x&palette=y&blend=7"));
    expect(view).toEqual({ sign: "pos", basis: "faithful", channel: "both", palette: "red_cyan", blend: 0.5 });
  });
});
