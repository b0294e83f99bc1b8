import { describe, expect, it } from "vitest";
import {
  DEFAULT_MODE_INDEX_VIEW,
  modeIndexQuery,
  modeIndexSearch,
  parseModeIndexView,
  toggleSort,
} from "./modeIndexView";

const parse = (qs: string) => parseModeIndexView(new URLSearchParams(qs));

describe("mode index view", () => {
  it("is the default view without a query, and writes nothing for it", () => {
    expect(parse("")).toEqual(DEFAULT_MODE_INDEX_VIEW);
    expect(modeIndexSearch(DEFAULT_MODE_INDEX_VIEW)).toBe("");
  });

  it("round-trips every sort and filter through the URL", () => {
    const view = {
      sort: "selectivity" as const,
      order: "asc" as const,
      basis: "exact" as const,
      layer: 3,
      head: 0,
      sign: "neg" as const,
      degenerate: false,
      neverFires: true,
      topClass: "golden retriever",
      minSelectivity: 1.5,
      minEffect: 0.05,
      includeInactive: true,
    };
    const search = modeIndexSearch(view);
    expect(search).toBe(
      "?sort=selectivity&order=asc&basis=exact&layer=3&head=0&sign=neg&degenerate=false&never_fires=true" +
        "&top_class=golden+retriever&min_selectivity=1.5&min_effect=0.05&include_inactive=true",
    );
    expect(parse(search)).toEqual(view);
  });

  it("leaves out the order a column sorts in by default", () => {
    expect(modeIndexSearch({ ...DEFAULT_MODE_INDEX_VIEW, sort: "sigma", order: "desc" })).toBe("?sort=sigma");
    expect(parse("?sort=sigma").order).toBe("desc");
    expect(parse("?order=desc").order).toBe("desc");
    expect(parse("").order).toBe("asc");
  });

  it("ignores malformed values", () => {
    expect(
      parse("?sort=nope&order=up&layer=-1&sign=both&degenerate=maybe&min_selectivity=abc&min_effect=&basis=x"),
    ).toEqual(DEFAULT_MODE_INDEX_VIEW);
  });

  it("a header click sorts by its column, a second one reverses", () => {
    const bySigma = toggleSort(DEFAULT_MODE_INDEX_VIEW, "sigma");
    expect([bySigma.sort, bySigma.order]).toEqual(["sigma", "desc"]);
    const reversed = toggleSort(bySigma, "sigma");
    expect([reversed.sort, reversed.order]).toEqual(["sigma", "asc"]);
    const byPosition = toggleSort(reversed, "position");
    expect([byPosition.sort, byPosition.order]).toEqual(["position", "asc"]);
  });

  it("sorts every statistic largest first on the first click, and the position from the start", () => {
    for (const sort of ["selectivity", "firing", "mean", "std", "best_score", "sigma_share", "cos"] as const) {
      expect(toggleSort(DEFAULT_MODE_INDEX_VIEW, sort).order).toBe("desc");
      expect(toggleSort(toggleSort(DEFAULT_MODE_INDEX_VIEW, sort), sort).order).toBe("asc");
    }
    expect(parse("?sort=selectivity").order).toBe("desc");
  });

  it("asks the API for the view, without the filters that are off", () => {
    expect(modeIndexQuery(DEFAULT_MODE_INDEX_VIEW)).toEqual({ basis: "faithful", sort: "position", order: "asc" });
    expect(modeIndexQuery(parse("?layer=0&never_fires=false&top_class=%20dog%20&include_inactive=true"))).toEqual({
      basis: "faithful",
      sort: "position",
      order: "asc",
      layer: 0,
      never_fires: false,
      top_class: "dog",
      include_inactive: true,
    });
  });
});
