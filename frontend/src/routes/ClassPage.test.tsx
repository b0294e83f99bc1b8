import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import {
  classAcrossModels,
  classList,
  classModeMatch,
  datasetImageMaps,
  modelSummary,
  searchResults,
  STATISTICS_NOTE,
} from "../test/fixtures";
import { currentUrl, mockApi, renderAt } from "../test/mockApi";

const MODELS = [
  modelSummary(),
  modelSummary({ slug: "dino__shapes", model_id: "facebook/dino-vits16" }),
  modelSummary({
    slug: "vit-tiny__photos",
    model_id: "vit-tiny",
    statistics: { computed: false, n_classes: 0, note: STATISTICS_NOTE },
  }),
  modelSummary({ slug: "other__imagenette", model_id: "other-vit" }),
];

describe("class page", () => {
  it("shows each model's most selective modes side by side, and which models cannot say", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: MODELS },
      "/api/classes/red%20square": { body: classAcrossModels() },
    });
    renderAt("/classes/red%20square");
    expect(await screen.findByRole("heading", { level: 1, name: /^Class .?red square.?$/ })).toBeTruthy();
    const columns = await screen.findAllByRole("region");
    expect(columns.map((c) => within(c).getByRole("heading", { level: 2 }).textContent)).toEqual([
      "planted-vit",
      "facebook/dino-vits16",
    ]);
    const dino = within(columns[1]!);
    const mode = dino.getByRole("link", { name: "L5 H3 M7 pos" });
    expect(mode.getAttribute("href")).toBe("/m/dino__shapes/L5/H3/M7?sign=pos&basis=faithful");
    expect(dino.getByText("2.50")).toBeTruthy(); // selectivity
    expect(dino.getByText("4.000")).toBeTruthy(); // class mean
    expect(dino.getAllByRole("img", { name: /top image/ })).toHaveLength(2);
    expect(dino.getByRole("link", { name: "in the mode index" }).getAttribute("href")).toBe(
      "/m/dino__shapes/modes?sort=selectivity&top_class=red+square",
    );

    const note = screen.getByRole("note");
    expect(within(note).getByRole("link", { name: "vit-tiny" }).getAttribute("href")).toBe("/m/vit-tiny__photos");
    expect(note.textContent).toContain(STATISTICS_NOTE);
    expect(screen.getByText(/Without a class/).textContent).toContain("other-vit");
    const request = fetchMock.mock.calls.map(([r]) => (r as Request).url).find((u) => u.includes("/api/classes/"));
    expect(request).toContain("limit=8");
  });

  it("shows the class's own images under each mode, and the large view steps to the neighbouring modes", async () => {
    const DINO = modelSummary({ slug: "dino__shapes", model_id: "facebook/dino-vits16", n_modes: 64 });
    const maps = (imageId: string, from_original_file: boolean) => (request: Request) => {
      const mode = Number(new URL(request.url).searchParams.get("mode"));
      const note = from_original_file ? null : "computed from the atlas's stored crop (the original is gone)";
      return { body: datasetImageMaps({ image_id: imageId, mode, score: mode / 4, from_original_file, note }) };
    };
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary(), DINO] },
      "/api/classes/red%20square": { body: classAcrossModels() },
      "/api/models/dino__shapes/images/dino__shapes~3/maps": maps("dino__shapes~3", true),
      "/api/models/dino__shapes/images/dino__shapes~8/maps": maps("dino__shapes~8", false),
    });
    const asked = () => fetchMock.mock.calls.map(([r]) => (r as Request).url);
    renderAt("/classes/red%20square");
    const columns = await screen.findAllByRole("region");
    const own = within(columns[1]!).getByRole("list", { name: "Images of the class under L5 H3 M7 pos" });
    await waitFor(() =>
      expect(within(own).getAllByRole("img", { name: /query map .* of L5 H3 M7 pos/ })).toHaveLength(2),
    );
    const overlay = within(own).getByRole("img", { name: /on red_square\/3\.png/ });
    expect(overlay.getAttribute("src")).toBe(
      "/api/models/dino__shapes/images/dino__shapes~3/overlay.png?layer=5&head=3&mode=7&sign=pos&basis=faithful" +
        "&v=fedcba9876543210&channel=both&palette=red_cyan&blend=1.00&opacity=0.60",
    );
    const tiles = within(own).getAllByRole("listitem");
    expect(tiles.map((tile) => tile.textContent)).toEqual(["score 1.750", "score 1.750 (crop)"]);
    expect(within(columns[1]!).getByText(/^Under each mode/).textContent).toBe(
      "Under each mode: the class's 2 images, their maps computed by the model on demand (the atlas records 2 of " +
        "the class's 12 images: those among its modes' top images).",
    );
    // The planted column lists no image of the class: no list, no request, and says why.
    expect(within(columns[0]!).queryByRole("list", { name: /Images of the class/ })).toBeNull();
    expect(within(columns[0]!).getByText(/keeps no record of this class's images/)).toBeTruthy();
    expect(asked().some((u) => u.includes("/images/planted__shapes"))).toBe(false);

    fireEvent.click(within(tiles[1]!).getByRole("button"));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByRole("heading", { level: 2 }).textContent).toBe(
      "L5 H3 M7 pos: image of the class #2 of 2",
    );
    expect(within(dialog).getByRole("status").textContent).toContain("stored crop");
    fireEvent.keyDown(dialog, { key: "]" });
    await waitFor(() =>
      expect(within(dialog).getByRole("heading", { level: 2 }).textContent).toBe(
        "L5 H3 M8 pos: image of the class #2 of 2",
      ),
    );
    await waitFor(() => expect(dialog.textContent).toContain("2.000")); // mode 8's score, fetched on the fly
    expect(asked().some((u) => u.includes("dino__shapes~8/maps") && u.includes("mode=8"))).toBe(true);
    expect(
      within(dialog)
        .getByRole("img", { name: /of L5 H3 M8 pos on image of the class 2/ })
        .getAttribute("src"),
    ).toContain("mode=8");
    fireEvent.click(within(dialog).getByRole("button", { name: "[ L5 H3 M7 pos" }));
    await waitFor(() => expect(within(dialog).getByRole("heading", { level: 2 }).textContent).toMatch(/^L5 H3 M7 pos/));
    fireEvent.keyDown(dialog, { key: "ArrowLeft" });
    await waitFor(() =>
      expect(within(dialog).getByRole("heading", { level: 2 }).textContent).toBe(
        "L5 H3 M7 pos: image of the class #1 of 2",
      ),
    );
    expect(within(dialog).getByRole("button", { name: "L5 H3 M8 pos ]" })).toBeTruthy();
  });

  it("asks in the basis of its URL", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: MODELS },
      "/api/classes/red%20square": { body: classAcrossModels({ basis: "exact" }) },
    });
    renderAt("/classes/red%20square?basis=exact");
    await screen.findAllByRole("region");
    expect(screen.getByRole("button", { name: "exact" }).getAttribute("aria-pressed")).toBe("true");
    const request = fetchMock.mock.calls.map(([r]) => (r as Request).url).find((u) => u.includes("/api/classes/"));
    expect(request).toContain("basis=exact");
  });

  it("says so when no served model has the class", async () => {
    mockApi({
      "/api/models": { body: MODELS },
      "/api/classes/zebra": { status: 404, body: { detail: "no served model's dataset has a class 'zebra'" } },
      "/api/classes": { body: classList() },
    });
    renderAt("/classes/zebra");
    expect(await screen.findByRole("heading", { level: 1, name: "Class not found" })).toBeTruthy();
    expect(screen.getByText(/No class has a near name; 5 classes are listed/)).toBeTruthy();
    const links = within(screen.getByRole("list", { name: "Pages that exist" })).getAllByRole("link");
    expect(links.map((a) => a.textContent)).toEqual(["Every class", "Search for “zebra”"]);
  });
});

describe("search results page", () => {
  it("lists names, classes and class modes with their images, and the atlases without statistics", async () => {
    const fetchMock = mockApi({ "/api/models": { body: MODELS }, "/api/search": { body: searchResults() } });
    renderAt("/search?q=red");
    expect(await screen.findByRole("heading", { level: 1, name: "Search results for “red”" })).toBeTruthy();
    const names = await screen.findByRole("region", { name: "Models, layers, heads and modes" });
    expect(within(names).getByRole("link", { name: "planted-vit L1 H2 M3" }).getAttribute("href")).toBe(
      "/m/planted__shapes/L1/H2/M3?sign=pos&basis=faithful",
    );
    const classes = screen.getByRole("region", { name: "Classes" });
    expect(within(classes).getByRole("link", { name: "red square" }).getAttribute("href")).toBe(
      "/classes/red%20square",
    );
    const modes = screen.getByRole("region", { name: "Modes most selective for these classes" });
    expect(within(modes).getByRole("link", { name: "planted-vit L1 H0 M0 neg" }).getAttribute("href")).toBe(
      "/m/planted__shapes/L1/H0/M0?sign=neg&basis=faithful",
    );
    expect(within(modes).getAllByRole("img", { name: /top image/ })).toHaveLength(4);
    expect(within(screen.getByRole("note")).getByRole("link", { name: "vit-tiny" })).toBeTruthy();
    const request = fetchMock.mock.calls.map(([r]) => (r as Request).url).find((u) => u.includes("/api/search"));
    expect(request).toContain("q=red&limit=100");
  });

  it("says when nothing matches", async () => {
    mockApi({
      "/api/models": { body: MODELS },
      "/api/search": {
        body: searchResults({ query: "zebra", names: [], classes: [], class_modes: [], missing_statistics: [] }),
      },
    });
    renderAt("/search?q=zebra");
    expect(await screen.findByText(/Nothing matches “zebra”/)).toBeTruthy();
  });
});

describe("classes you can trust", () => {
  it("lists every class with its images per dataset, filters and sorts in the URL, and marks small classes", async () => {
    mockApi({ "/api/models": { body: MODELS }, "/api/classes": { body: classList() } });
    renderAt("/classes");
    const table = await screen.findByRole("table", { name: "Classes and their images" });
    const rows = () =>
      within(table)
        .getAllByRole("row")
        .slice(1)
        .map((r) => [...r.querySelectorAll("th, td")].map((c) => c.textContent));
    expect(rows()).toEqual([
      ["blue circle", "2few", "—"],
      ["golden_retriever", "—", "1"],
      ["red square", "12", "—"],
      ["tench", "—", "1"],
      ["yellow triangle", "20", "—"],
    ]);
    expect(within(table).getByRole("link", { name: "red square" }).getAttribute("href")).toBe("/classes/red%20square");
    // One photo per class: said once for the dataset, not ranked or badged row by row.
    expect(screen.getByRole("note").textContent).toMatch(
      /^Every class of imagenet-samples has 1 image: selectivity cannot be ranked reliably/,
    );

    fireEvent.change(screen.getByRole("combobox", { name: "Sort by" }), { target: { value: "shapes" } });
    await waitFor(() => expect(currentUrl()).toBe("/classes?sort=shapes"));
    expect(rows().map(([label]) => label)).toEqual([
      "yellow triangle",
      "red square",
      "blue circle",
      "golden_retriever",
      "tench",
    ]);

    fireEvent.change(screen.getByRole("searchbox", { name: "Class contains" }), { target: { value: "RED " } });
    await waitFor(() => expect(currentUrl()).toBe("/classes?sort=shapes&q=RED"));
    expect(rows().map(([label]) => label)).toEqual(["red square"]);
    expect(screen.getByText("1 of 5 classes")).toBeTruthy();
  });

  it("says so when no served atlas has labels", async () => {
    mockApi({
      "/api/models": { body: MODELS },
      "/api/classes": { body: classList({ datasets: [], classes: [], without_labels: ["vit-tiny__photos"] }) },
    });
    renderAt("/classes");
    expect((await screen.findByText(/No served atlas has class labels/)).textContent).toBeTruthy();
    expect(screen.getByText(/Their datasets have no labels/).textContent).toContain("vit-tiny");
  });

  it("an unknown class suggests the near ones", async () => {
    mockApi({
      "/api/models": { body: MODELS },
      "/api/classes/red%20squares": { status: 404, body: { detail: "no served model's dataset has a class" } },
      "/api/classes": { body: classList() },
    });
    renderAt("/classes/red%20squares");
    expect(await screen.findByRole("heading", { level: 1, name: "Class not found" })).toBeTruthy();
    expect(screen.getByText("No served dataset has a class “red squares”.")).toBeTruthy();
    const near = within(screen.getByRole("list", { name: "Near classes" })).getAllByRole("link");
    expect(near.map((a) => [a.textContent, a.getAttribute("href")])).toEqual([
      ["red square", "/classes/red%20square"],
      ["Every class", "/classes"],
      ["Search for “red squares”", "/search?q=red+squares"],
    ]);
  });

  it("a dataset whose every class has one image is not presented as a ranking", async () => {
    const small = classAcrossModels({
      models: classAcrossModels().models.map((m) => ({
        ...m,
        dataset: "samples",
        n_images: 1,
        largest_class_images: 1,
        modes: m.modes.map((match) => ({ ...match, n_images: 1 })),
      })),
      missing_statistics: [],
      without_class: [],
    });
    mockApi({ "/api/models": { body: MODELS }, "/api/classes/red%20square": { body: small } });
    renderAt("/classes/red%20square");
    const columns = await screen.findAllByRole("region");
    const column = within(columns[0]!);
    // Said once for the dataset, above both models' columns.
    const [note] = screen.getAllByRole("note");
    expect(note!.textContent).toMatch(/^Every class of samples has 1 image: selectivity cannot be ranked/);
    expect(screen.getAllByRole("note")).toHaveLength(1);
    const folded = column
      .getByText("The modes with the highest selectivity anyway (not a finding)")
      .closest("details")!;
    expect(folded.open).toBe(false);
    expect(within(folded).getByText("too few to rely on")).toBeTruthy();
  });

  it("a class with too few images among larger ones is marked on each mode", async () => {
    const result = classAcrossModels({
      models: [{ ...classAcrossModels().models[0]!, n_images: 3, modes: [classModeMatch({ n_images: 3 })] }],
    });
    mockApi({ "/api/models": { body: MODELS }, "/api/classes/red%20square": { body: result } });
    renderAt("/classes/red%20square");
    const [column] = await screen.findAllByRole("region");
    expect(
      within(column!).getByText(/This class has 3 images in shapes: its selectivities rest on them alone/),
    ).toBeTruthy();
    expect(within(column!).getByText("too few to rely on")).toBeTruthy();
    expect(within(column!).getByText("3")).toBeTruthy();
  });
});
