import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { MODE_INDEX_PAGE } from "../api/useModeIndexRows";
import { ROW_HEIGHT } from "../components/search/ModeIndexTable";
import { modeIndexPage, modelDetail, modelSummary, STATISTICS_NOTE } from "../test/fixtures";
import { currentUrl, history, mockApi, renderAt } from "../test/mockApi";

const INDEX = "/api/models/planted__shapes/modes";

/** The index's API over `total` rows (row i is `modeIndexRow(i)` whatever the sort). */
function indexApi(total: number, overrides: Parameters<typeof modeIndexPage>[3] = {}) {
  const fetchMock = mockApi({
    "/api/models": { body: [modelSummary()] },
    "/api/models/planted__shapes": { body: modelDetail() },
    [INDEX]: (request) => {
      const q = new URL(request.url).searchParams;
      return { body: modeIndexPage(total, Number(q.get("offset")), Number(q.get("limit")), overrides) };
    },
  });
  const requests = () =>
    fetchMock.mock.calls
      .map(([r]) => new URL((r as Request).url))
      .filter((u) => u.pathname === INDEX)
      .map((u) => u.searchParams);
  return { fetchMock, requests };
}

/** The scroll box is 360 px tall (happy-dom lays nothing out). */
function viewport(height = 360) {
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(height);
}

const dataRows = () => screen.getAllByRole("row").filter((r) => Number(r.getAttribute("aria-rowindex")) > 1);

describe("mode index", () => {
  it("renders only the rows in view and asks the server for the pages they are on", async () => {
    viewport();
    const { requests } = indexApi(5000);
    renderAt("/m/planted__shapes/modes");
    const table = await screen.findByRole("table", { name: "Signed modes of planted-vit" });
    expect(table.getAttribute("aria-rowcount")).toBe("5001");
    await screen.findByRole("link", { name: "L0 H0 M0 pos" });
    // 10 rows fit in 360 px, with a few more on either side: a window, not 5,000 rows.
    expect(dataRows().length).toBeGreaterThanOrEqual(10);
    expect(dataRows().length).toBeLessThan(40);
    expect(requests().map((q) => [q.get("offset"), q.get("limit")])).toEqual([["0", String(MODE_INDEX_PAGE)]]);
    expect(screen.getByText("5,000 signed modes (inactive ones left out)")).toBeTruthy();

    // Scrolled to row 3,100: its page (rows 3,000 to 3,199) is asked for, and only the rows around it render.
    const scroller = screen.getByRole("region", { name: /Signed modes of planted-vit/ });
    act(() => {
      scroller.scrollTop = 3100 * ROW_HEIGHT;
      fireEvent.scroll(scroller);
    });
    // Row 3,100: layer 129, head 0, mode 2, pos.
    expect(await screen.findByRole("link", { name: "L129 H0 M2 pos" })).toBeTruthy();
    expect(requests().map((q) => q.get("offset"))).toEqual(["0", "3000"]);
    expect(screen.queryByRole("link", { name: "L0 H0 M0 pos" })).toBeNull();
    const indices = dataRows().map((r) => Number(r.getAttribute("aria-rowindex")));
    expect(Math.min(...indices)).toBeGreaterThan(3050);
    expect(indices.length).toBeLessThan(40);
  });

  it("restores sort and filters from the URL, and puts every change back into it", async () => {
    viewport();
    const { requests } = indexApi(100);
    renderAt("/m/planted__shapes/modes?sort=selectivity&order=asc&sign=neg&layer=1&include_inactive=true");
    await screen.findByRole("link", { name: "L0 H0 M0 pos" });
    const asked = requests()[0]!;
    expect(Object.fromEntries(asked)).toMatchObject({
      sort: "selectivity",
      order: "asc",
      sign: "neg",
      layer: "1",
      include_inactive: "true",
      basis: "faithful",
      v: modelSummary().revision,
    });
    const sortedHeader = () => screen.getAllByRole("columnheader").find((th) => th.hasAttribute("aria-sort"));
    expect(sortedHeader()?.textContent).toMatch(/^selectivity/);
    expect(sortedHeader()?.getAttribute("aria-sort")).toBe("ascending");
    expect((screen.getByRole("combobox", { name: "Sign" }) as HTMLSelectElement).value).toBe("neg");
    expect((screen.getByRole("combobox", { name: "Layer" }) as HTMLSelectElement).value).toBe("1");
    expect((screen.getByRole("checkbox", { name: /include inactive/ }) as HTMLInputElement).checked).toBe(true);

    // A header click sorts by its column (largest first), a second one reverses.
    fireEvent.click(screen.getByRole("button", { name: "σ" }));
    await waitFor(() =>
      expect(currentUrl()).toBe("/m/planted__shapes/modes?sort=sigma&layer=1&sign=neg&include_inactive=true"),
    );
    expect(sortedHeader()?.getAttribute("aria-sort")).toBe("descending");
    await waitFor(() => expect(requests().at(-1)?.get("sort")).toBe("sigma"));
    fireEvent.click(screen.getByRole("button", { name: "σ" }));
    await waitFor(() => expect(currentUrl()).toContain("sort=sigma&order=asc"));
    expect(sortedHeader()?.getAttribute("aria-sort")).toBe("ascending");

    // A filter: the sign back to both.
    fireEvent.change(screen.getByRole("combobox", { name: "Sign" }), { target: { value: "" } });
    await waitFor(() => expect(currentUrl()).not.toContain("sign="));
    expect(requests().at(-1)?.has("sign")).toBe(false);

    // Back and forward step through those views.
    history(-1);
    await waitFor(() => expect(currentUrl()).toContain("sign=neg"));
    expect((screen.getByRole("combobox", { name: "Sign" }) as HTMLSelectElement).value).toBe("neg");
    history(-1);
    history(-1);
    await waitFor(() => expect(currentUrl()).toContain("sort=selectivity&order=asc"));
    expect(sortedHeader()?.textContent).toMatch(/^selectivity/);
    history(1);
    await waitFor(() => expect(currentUrl()).toContain("sort=sigma&layer=1"));
    expect(sortedHeader()?.getAttribute("aria-sort")).toBe("descending");
  });

  it("a text filter reaches the URL after a pause", async () => {
    viewport();
    const { requests } = indexApi(100);
    renderAt("/m/planted__shapes/modes");
    await screen.findByRole("link", { name: "L0 H0 M0 pos" });
    fireEvent.change(screen.getByRole("searchbox", { name: "Top class contains" }), { target: { value: "red" } });
    expect(currentUrl()).toBe("/m/planted__shapes/modes");
    await waitFor(() => expect(currentUrl()).toBe("/m/planted__shapes/modes?top_class=red"));
    await waitFor(() => expect(requests().at(-1)?.get("top_class")).toBe("red"));
    fireEvent.click(screen.getByRole("link", { name: "Clear filters" }));
    await waitFor(() => expect(currentUrl()).toBe("/m/planted__shapes/modes"));
    expect((screen.getByRole("searchbox", { name: "Top class contains" }) as HTMLInputElement).value).toBe("");
  });

  it("each row links to its mode, and its top class to the class page", async () => {
    viewport();
    indexApi(100);
    renderAt("/m/planted__shapes/modes?basis=exact");
    const link = await screen.findByRole("link", { name: "L0 H0 M1 neg" });
    expect(link.getAttribute("href")).toBe("/m/planted__shapes/L0/H0/M1?sign=neg&basis=exact");
    const row = link.closest("tr")!;
    expect(within(row).getByRole("link", { name: "red square" }).getAttribute("href")).toBe("/classes/red%20square");
    fireEvent.click(within(row).getAllByRole("cell")[4]!);
    await waitFor(() => expect(currentUrl()).toBe("/m/planted__shapes/L0/H0/M1?sign=neg&basis=exact"));
  });

  it("without statistics, their columns show “—”, do not sort, and a note says why", async () => {
    viewport();
    indexApi(100, { statistics_missing: STATISTICS_NOTE });
    renderAt("/m/planted__shapes/modes");
    const link = await screen.findByRole("link", { name: "L0 H0 M0 pos" });
    expect(screen.getByRole("note").textContent).toContain(STATISTICS_NOTE);
    const cells = within(link.closest("tr")!).getAllByRole("cell");
    expect(cells.slice(-6, -1).map((c) => c.textContent)).toEqual(["—", "—", "—", "—", "—"]);
    expect(screen.queryByRole("button", { name: "mean" })).toBeNull();
    expect(screen.getByRole("button", { name: "σ" })).toBeTruthy();
    expect(screen.queryByRole("combobox", { name: "Fires" })).toBeNull();
  });

  it("is linked from the model page", async () => {
    indexApi(100);
    renderAt("/m/planted__shapes");
    const link = await screen.findByRole("link", { name: /Mode index: all 48 signed modes/ });
    expect(link.getAttribute("href")).toBe("/m/planted__shapes/modes");
  });
});

describe("a mode index filter the model does not have", () => {
  it.each([
    [
      "layer=99",
      "There is no layer 99. The mode index of planted-vit has no rows for it.",
      "This model has 2 layers, L0–L1.",
    ],
    [
      "head=3&sign=neg",
      "There is no head 3. The mode index of planted-vit has no rows for it.",
      "This model has 3 heads per layer, H0–H2.",
    ],
    [
      "layer=x",
      "“x” is not a layer number. The mode index of planted-vit has no rows for it.",
      "Layers, heads and modes are written L0–L1, H0–H2 and M0–M3, as in /m/<model>/L0/H0/M0.",
    ],
  ])("?%s says so, and links to the index without it", async (query, problem, exists) => {
    const { requests } = indexApi(10);
    renderAt(`/m/planted__shapes/modes?${query}`);
    expect(await screen.findByRole("heading", { level: 1, name: "No such filter" })).toBeTruthy();
    expect(screen.getByText(problem)).toBeTruthy();
    expect(screen.getByText(exists)).toBeTruthy();
    expect(screen.queryByRole("table")).toBeNull();
    expect(requests()).toHaveLength(0);
    const back = screen.getByRole("link", { name: "The mode index without this filter" });
    expect(back.getAttribute("href")).toBe(`/m/planted__shapes/modes${query.includes("sign") ? "?sign=neg" : ""}`);
  });
});
