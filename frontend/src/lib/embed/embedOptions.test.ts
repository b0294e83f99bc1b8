import { describe, expect, it } from "vitest";
import {
  embedSearch,
  fullAppUrl,
  HEAD_EMBED_PARTS,
  keepEmbed,
  MODE_EMBED_PARTS,
  parseEmbedOptions,
  showsPart,
  withoutEmbed,
} from "./embedOptions";

const parse = (query: string) => parseEmbedOptions(new URLSearchParams(query));

describe("embed options", () => {
  it("embeds only with embed=1 or embed=true", () => {
    expect(parse("sign=pos").embedded).toBe(false);
    expect(parse("embed=0").embedded).toBe(false);
    expect(parse("embed=yes").embedded).toBe(false);
    expect(parse("embed=1").embedded).toBe(true);
    expect(parse("embed=true").embedded).toBe(true);
  });

  it("shows every part without parts=, exactly the named ones with it", () => {
    const all = parse("embed=1");
    expect(MODE_EMBED_PARTS.every((part) => showsPart(all, part))).toBe(true);
    const some = parse("embed=1&parts=top, samples,,top");
    expect(MODE_EMBED_PARTS.filter((part) => showsPart(some, part))).toEqual(["top", "samples"]);
    const none = parse("embed=1&parts=");
    expect(HEAD_EMBED_PARTS.filter((part) => showsPart(none, part))).toEqual([]);
  });

  it("lists unknown part names once, as written, and ignores parts= outside an embed", () => {
    expect(parse("embed=1&parts=top,images,Top,images").unknownParts).toEqual(["images", "Top"]);
    const full = parse("parts=top");
    expect(full.embedded).toBe(false);
    expect(showsPart(full, "distribution")).toBe(true);
  });

  it("writes parts= into an embed's query only when some part is left out", () => {
    expect(embedSearch("sign=neg&basis=exact", MODE_EMBED_PARTS, MODE_EMBED_PARTS)).toBe(
      "?sign=neg&basis=exact&embed=1",
    );
    // In the page's order, whatever order they were picked in.
    expect(embedSearch("basis=faithful", ["samples", "badge", "top"], MODE_EMBED_PARTS)).toBe(
      "?basis=faithful&embed=1&parts=badge,top,samples",
    );
    expect(embedSearch("", [], HEAD_EMBED_PARTS)).toBe("?embed=1&parts=");
    const back = parseEmbedOptions(new URLSearchParams(embedSearch("", ["spectrum"], HEAD_EMBED_PARTS)));
    expect(HEAD_EMBED_PARTS.filter((part) => showsPart(back, part))).toEqual(["spectrum"]);
  });

  it("drops the embed's parameters for the full app and keeps them for a change of the embedded view", () => {
    expect(withoutEmbed(new URLSearchParams("sign=pos&embed=1&parts=top&band=2")).toString()).toBe("sign=pos&band=2");
    const embedded = new URLSearchParams("embed=1&parts=top,try");
    expect(keepEmbed("/m/x/L1/H2/M3?sign=pos&upload=abc", embedded)).toBe(
      "/m/x/L1/H2/M3?sign=pos&upload=abc&embed=1&parts=top%2Ctry",
    );
    expect(keepEmbed("/m/x/L1/H2/M3?sign=pos", new URLSearchParams("sign=neg"))).toBe("/m/x/L1/H2/M3?sign=pos");
    expect(fullAppUrl("/m/x/L1/H2?basis=exact&embed=1#modes", "https://qk.example")).toBe(
      "https://qk.example/m/x/L1/H2?basis=exact#modes",
    );
    expect(fullAppUrl("/m/x?embed=1", "https://qk.example")).toBe("https://qk.example/m/x");
  });
});
