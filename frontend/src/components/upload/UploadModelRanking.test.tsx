import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { modelSummary, uploadHeadModes, uploadModelModes } from "../../test/fixtures";
import { mockApi, renderAt } from "../../test/mockApi";

const UPLOAD = { id: "0123456789abcdef0123456789abcdef", width: 64, height: 64, n_bytes: 10, expires_in_s: 3600 };
const PLANTED = modelSummary({ random_init: false, planted: true });
const TINY = modelSummary({ slug: "tiny__photos", model_id: "tiny-vit", bases: ["faithful"] });
const BROKEN = modelSummary({ slug: "broken__photos", model_id: "broken-vit" });
const modesPath = <Slug extends string>(slug: Slug) =>
  `/api/uploads/0123456789abcdef0123456789abcdef/models/${slug}/modes` as const;

/** The query string of every request made for `path`. */
function requestsOf(fetchMock: ReturnType<typeof mockApi>, path: string): string[] {
  return fetchMock.mock.calls
    .map(([r]) => new URL((r as Request).url))
    .filter((url) => url.pathname === path)
    .map((url) => url.search);
}

describe("an upload's modes across the whole model", () => {
  it("flags a listed mode that never fires on the dataset", async () => {
    mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": { body: UPLOAD },
      "/api/models": { body: [PLANTED] },
      [modesPath("planted__shapes")]: { body: uploadModelModes(4) },
      "/api/uploads/0123456789abcdef0123456789abcdef/models/planted__shapes/layers/0/heads/0": {
        body: uploadHeadModes(),
      },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes&layer=0&head=0");
    const panel = await screen.findByRole("region", { name: "Modes this image drives most — whole model" });
    const links = await within(panel).findAllByRole("link");
    // The fixture's rank 2 (#3) never fires; the others do.
    expect(links.map((link) => within(link).queryByText("never fires") !== null)).toEqual([false, false, true, false]);
  });

  it("lists the chosen model's top modes, each a link to its mode page with its overlay on the image", async () => {
    const fetchMock = mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": { body: UPLOAD },
      "/api/models": { body: [PLANTED] },
      [modesPath("planted__shapes")]: { body: uploadModelModes(10) },
      "/api/uploads/0123456789abcdef0123456789abcdef/models/planted__shapes/layers/0/heads/0": {
        body: uploadHeadModes(),
      },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes&layer=0&head=0");
    const panel = await screen.findByRole("region", { name: "Modes this image drives most — whole model" });
    const links = await within(panel).findAllByRole("link");
    expect(links).toHaveLength(10);
    expect(
      within(panel).getByText(/The top 10 of the 24 active modes of every layer and head of planted-vit/),
    ).toBeTruthy();

    const [first, second] = links;
    expect(first!.textContent).toBe("#1 L0 H0 M0 posσ 4.000 · contribution 20.000");
    // The mode's page with the upload attached.
    expect(first!.getAttribute("href")).toBe(
      "/m/planted__shapes/L0/H0/M0?sign=pos&basis=faithful&upload=0123456789abcdef0123456789abcdef",
    );
    const overlay = first!.querySelector("img")!.getAttribute("src")!;
    expect(overlay).toContain(
      "/api/uploads/0123456789abcdef0123456789abcdef/models/planted__shapes/layers/0/heads/0/modes/0/overlay.png",
    );
    // The sign and basis of the mode, pinned to the atlas build the ranking came from, the page's overlay options.
    expect(overlay).toContain("sign=pos&basis=faithful&v=0123456789abcdef&channel=both&palette=red_cyan");
    expect(second!.getAttribute("href")).toBe(
      "/m/planted__shapes/L1/H1/M1?sign=neg&basis=faithful&upload=0123456789abcdef0123456789abcdef",
    );
    expect(within(second!).getByText("neg").getAttribute("title")).toMatch(/^The pair \(−u, −v\)/);
    expect(within(second!).getByText("degenerate")).toBeTruthy();
    expect(requestsOf(fetchMock, modesPath("planted__shapes"))).toEqual(["?basis=faithful&limit=10"]);
    // The head picker's ranking is still there.
    expect(await screen.findByRole("heading", { name: "Modes of L0 H0 ranked for your image" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "L0 H0 M2 pos" })).toBeTruthy();
  });

  it("shows every served model's top 5, each as soon as it is ready, a failure in its own column", async () => {
    let answerTiny: () => void = () => {};
    const tinyReady = new Promise<void>((resolve) => (answerTiny = resolve));
    const fetchMock = mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": { body: UPLOAD },
      "/api/models": { body: [PLANTED, TINY, BROKEN] },
      [modesPath("planted__shapes")]: { body: uploadModelModes(10, { basis: "exact" }) },
      [modesPath("tiny__photos")]: async () => {
        await tinyReady;
        return { body: uploadModelModes(10, { model: "tiny__photos" }) };
      },
      [modesPath("broken__photos")]: {
        status: 503,
        body: { detail: "the model of this atlas cannot be loaded (OSError)" },
      },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes&layer=0&head=0&basis=exact");
    const across = await screen.findByRole("region", { name: "Across every served model" });
    const column = (name: RegExp) => within(across).getByRole("listitem", { name });

    const planted = column(/^planted-vit/);
    expect(await within(planted).findAllByRole("link")).toHaveLength(5);
    expect(within(planted).getByText("offline demo · planted modes")).toBeTruthy();
    expect(within(planted).getAllByRole("link")[0]!.getAttribute("href")).toBe(
      "/m/planted__shapes/L0/H0/M0?sign=pos&basis=exact&upload=0123456789abcdef0123456789abcdef",
    );
    expect((await within(column(/^broken-vit/)).findByRole("alert")).textContent).toContain("cannot be loaded");
    // The slow model is still analysing while the others show.
    const tiny = column(/^tiny-vit on shapes/);
    expect(within(tiny).getByRole("status").textContent).toBe("Analysing your image with tiny-vit…");
    expect(within(tiny).queryAllByRole("link")).toHaveLength(0);

    answerTiny();
    await waitFor(() => expect(within(tiny).getAllByRole("link")).toHaveLength(5));
    // An atlas without the page's basis is ranked in one it has.
    expect(within(tiny).getAllByRole("link")[0]!.getAttribute("href")).toBe(
      "/m/tiny__photos/L0/H0/M0?sign=pos&basis=faithful&upload=0123456789abcdef0123456789abcdef",
    );
    // One request per model: the chosen model's column shares the whole-model panel's.
    expect(requestsOf(fetchMock, modesPath("planted__shapes"))).toEqual(["?basis=exact&limit=10"]);
    expect(requestsOf(fetchMock, modesPath("tiny__photos"))).toEqual(["?basis=faithful&limit=10"]);
    expect(requestsOf(fetchMock, modesPath("broken__photos"))).toHaveLength(1);
  });

  it("says so when every mode of the model is inactive", async () => {
    mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": { body: UPLOAD },
      "/api/models": { body: [PLANTED] },
      [modesPath("planted__shapes")]: { body: uploadModelModes(0, { n_modes_total: 0 }) },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes");
    const panel = await screen.findByRole("region", { name: "Modes this image drives most — whole model" });
    expect((await within(panel).findByText(/Every mode of this model is inactive/)).textContent).toContain("σ = 0");
    expect(within(panel).queryByText(/The top/)).toBeNull();
  });

  it("says the server is busy with a countdown from Retry-After, and retries by itself", async () => {
    let busyAnswers = 1;
    const fetchMock = mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": { body: UPLOAD },
      "/api/models": { body: [PLANTED] },
      [modesPath("planted__shapes")]: () =>
        busyAnswers-- > 0
          ? {
              status: 503,
              body: { detail: "the server is busy analysing other images; try again in 1 s" },
              headers: { "Retry-After": "1" },
            }
          : { body: uploadModelModes(10) },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes");
    const panel = await screen.findByRole("region", { name: "Modes this image drives most — whole model" });
    // Analysing, then busy: the count from the server's Retry-After, no error shown.
    await waitFor(() => expect(within(panel).getByRole("status").textContent).toBe("Busy: retrying in 1 s"));
    expect(within(panel).queryByRole("alert")).toBeNull();
    expect(await within(panel).findAllByRole("link", {}, { timeout: 3000 })).toHaveLength(10);
    expect(requestsOf(fetchMock, modesPath("planted__shapes"))).toHaveLength(2);
  });
});
