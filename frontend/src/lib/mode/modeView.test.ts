import { describe, expect, it } from "vitest";
import { modePath } from "../address/paths";
import { topImagePath } from "./largeView";
import { modeViewSearch, parseModeView } from "./modeView";

describe("mode view in the query string", () => {
  it("round-trips every option and omits defaults", () => {
    const view = parseModeView(
      new URLSearchParams("sign=neg&basis=exact&channel=key&palette=orange_blue&blend=0.2&opacity=0.3"),
    );
    expect(view).toEqual({
      sign: "neg",
      basis: "exact",
      channel: "key",
      palette: "orange_blue",
      blend: 0.2,
      opacity: 0.3,
      upload: null,
    });
    expect(parseModeView(new URLSearchParams(modeViewSearch(view)))).toEqual(view);
    expect(modeViewSearch(parseModeView(new URLSearchParams()))).toBe("?sign=pos&basis=faithful");
  });

  it("keeps map opacity and photo brightness apart, each omitted at its default", () => {
    const opaque = parseModeView(new URLSearchParams("opacity=0"));
    expect(opaque.opacity).toBe(0);
    expect(opaque.blend).toBe(1);
    expect(modeViewSearch(opaque)).toBe("?sign=pos&basis=faithful&opacity=0");
    expect(modeViewSearch({ ...opaque, opacity: 0.6, blend: 0.5 })).toBe("?sign=pos&basis=faithful&blend=0.5");
  });

  it("falls back to defaults on bad values", () => {
    const view = parseModeView(new URLSearchParams("channel=x&palette=y&blend=7&opacity=-0.5"));
    expect(view).toEqual({
      sign: "pos",
      basis: "faithful",
      channel: "both",
      palette: "red_cyan",
      blend: 1,
      opacity: 0.6,
      upload: null,
    });
    expect(parseModeView(new URLSearchParams("opacity=&blend=abc"))).toMatchObject({ blend: 1, opacity: 0.6 });
  });

  it("carries an attached upload, so that a shared link and the step keys keep it", () => {
    const id = "0123456789abcdef0123456789abcdef";
    const view = parseModeView(new URLSearchParams(`sign=neg&basis=exact&upload=${id}&opacity=0`));
    expect(view.upload).toBe(id);
    expect(modeViewSearch(view)).toBe(`?sign=neg&basis=exact&upload=${id}&opacity=0`);
    expect(modeViewSearch({ ...view, upload: null })).toBe("?sign=neg&basis=exact&opacity=0");
    expect(modePath("m", 1, 2, 3, { sign: "pos", basis: "faithful", upload: id })).toBe(
      `/m/m/L1/H2/M3?sign=pos&basis=faithful&upload=${id}`,
    );
    expect(topImagePath("m", 1, 2, 3, { sign: "pos", basis: "faithful", upload: id }, 0)).toBe(
      `/m/m/L1/H2/M3?sign=pos&basis=faithful&upload=${id}&image=0`,
    );
  });
});
