import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import {
  headDetail,
  modeDetail,
  modelDetail,
  modelSummary,
  o3Result,
  partlyInactiveHead,
  uploadHeadModes,
} from "../test/fixtures";
import { currentUrl, mockApi, renderAt } from "../test/mockApi";

const MODEL = "/api/models/planted__shapes";

describe("pages", () => {
  it("Home lists the models with the demo label", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODEL]: { body: modelDetail() } });
    renderAt("/");
    expect(await screen.findByRole("link", { name: "planted-vit" })).toBeTruthy();
    expect(screen.getByText("offline demo · random weights")).toBeTruthy();
    expect(await screen.findByText(/all models/)).toBeTruthy();
  });

  it("Home writes dataset sizes with thousands separators and the singular for one image", async () => {
    const big = modelSummary({ dataset: { name: "imagenet-val", n_images: 50_000, n_skipped: 0 } });
    const one = modelSummary({
      slug: "one",
      model_id: "one-image",
      dataset: { name: "one", n_images: 1, n_skipped: 0 },
    });
    mockApi({
      "/api/models": { body: [big, one] },
      [MODEL]: { body: modelDetail() },
      "/api/models/one": { body: modelDetail() },
    });
    renderAt("/");
    expect(await screen.findByText("imagenet-val, 50,000 images")).toBeTruthy();
    expect(screen.getByText("one, 1 image")).toBeTruthy();
  });

  it("Home's cosine chart shows the quantity of its address, and the control writes it there", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODEL]: { body: modelDetail() } });
    renderAt("/?quantity=unweighted");
    expect(await screen.findByText("unweighted mean cosine vs normalized depth, all models")).toBeTruthy();
    expect(screen.getByRole("button", { name: "unweighted mean cosine" }).getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(screen.getByRole("button", { name: /released-code variant/ }));
    expect(await screen.findByText("released-code variant (÷ d_head) vs normalized depth, all models")).toBeTruthy();
    expect(currentUrl()).toBe("/?quantity=scaled");
    // The default quantity leaves the address short.
    fireEvent.click(screen.getByRole("button", { name: "σ-weighted cosine" }));
    await waitFor(() => expect(currentUrl()).toBe("/"));
  });

  it("Home's cosine chart falls back to the σ-weighted cosine for an unknown quantity", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODEL]: { body: modelDetail() } });
    renderAt("/?quantity=nonsense");
    expect(await screen.findByText("σ-weighted cosine vs normalized depth, all models")).toBeTruthy();
  });

  it("Home draws the odd-one-out chart of the models that have results", async () => {
    mockApi({
      "/api/models": { body: [modelSummary({ has_o3: true })] },
      [MODEL]: { body: modelDetail({ has_o3: true }) },
      [`${MODEL}/o3`]: { body: o3Result() },
    });
    renderAt("/");
    expect(await screen.findByText("same object share of the target query's attention, all models")).toBeTruthy();
    expect(
      screen.getByRole("group", { name: "Download “same object share of the target query's attention, all models”" }),
    ).toBeTruthy();
  });

  it("Model page has the three odd-one-out curves of both queries, every chart downloadable", async () => {
    mockApi({
      "/api/models": { body: [modelSummary({ has_o3: true })] },
      [MODEL]: { body: modelDetail({ has_o3: true }) },
      [`${MODEL}/o3`]: { body: o3Result() },
    });
    renderAt("/m/planted__shapes");
    expect(await screen.findByText("Attention of the target query")).toBeTruthy();
    expect(await screen.findByText("Attention of the distractor query")).toBeTruthy();
    expect(screen.getByText(/4 images of o3-synthetic \(1 skipped\)/)).toBeTruthy();
    // The head grid, the cosine curve, the spectra and the two odd-one-out charts.
    await waitFor(() => expect(document.querySelectorAll("figure.chart")).toHaveLength(5));
    expect(document.querySelector("figure.chart.head-grid .chart-download")).toBeTruthy();
    for (const figure of document.querySelectorAll("figure.chart")) {
      expect(figure.querySelectorAll(".chart-download button")).toHaveLength(2);
    }
  });

  it("Model page without odd-one-out results does not ask for them", async () => {
    const fetchMock = mockApi({ "/api/models": { body: [modelSummary()] }, [MODEL]: { body: modelDetail() } });
    renderAt("/m/planted__shapes");
    await screen.findByRole("heading", { name: "Singular spectra" });
    expect(screen.queryByRole("heading", { name: "Odd-one-out attention" })).toBeNull();
    expect(fetchMock.mock.calls.some(([r]) => (r as Request).url.endsWith("/o3"))).toBe(false);
  });

  it("Home says so when no atlas is served", async () => {
    mockApi({ "/api/models": { body: [] } });
    renderAt("/");
    expect(await screen.findByText(/No atlas is being served/)).toBeTruthy();
  });

  it("Model page shows the head grid", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODEL]: { body: modelDetail() } });
    renderAt("/m/planted__shapes");
    const cell = await screen.findByRole("link", { name: "L1 H1, weighted cosine -0.200" });
    expect(cell.getAttribute("href")).toBe("/m/planted__shapes/L1/H1");
  });

  it("Head page lists modes with their best image and links", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2`]: { body: headDetail() },
    });
    renderAt("/m/planted__shapes/L1/H2");
    const link = await screen.findByRole("link", { name: "L1 H2 M3" });
    expect(link.getAttribute("href")).toBe("/m/planted__shapes/L1/H2/M3?sign=pos&basis=faithful");
    expect(screen.getAllByText("degenerate").length).toBeGreaterThan(0);
    expect(document.querySelectorAll("img.thumb")).toHaveLength(4);
    // Pinned to the revision of the model list: cacheable for good.
    const request = fetchMock.mock.calls.map(([r]) => (r as Request).url).find((u) => u.includes("/heads/2"));
    expect(new URL(request!).searchParams.get("v")).toBe(modelSummary().revision);
  });

  it("Mode page shows the top images with the overlay options of its URL", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2/modes/1`]: { body: modeDetail({ degenerate: true }) },
    });
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful&channel=query&palette=orange_blue");
    const images = await screen.findAllByRole("img", { name: /query map \(orange\) of L1 H2 M1 pos/ });
    expect(images).toHaveLength(2);
    expect(images[0]!.getAttribute("src")).toContain("channel=query&palette=orange_blue&blend=1.00&opacity=0.60");
    expect(screen.getByText(/Degenerate mode/)).toBeTruthy();
    expect(document.querySelector(".image-card .label")?.textContent).toBe("red square");
    expect(screen.getByRole("group", { name: "Palette" })).toBeTruthy();
    const request = fetchMock.mock.calls.map(([r]) => (r as Request).url).find((u) => u.includes("/modes/1"));
    expect(request).toContain("sign=pos&basis=faithful");
    expect(new URL(request!).searchParams.get("v")).toBe(modelSummary().revision);
  });

  it("Mode page steps to the next mode with j", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2/modes/1`]: { body: modeDetail() },
      [`${MODEL}/layers/1/heads/2/modes/2`]: { body: modeDetail({ mode: 2 }) },
    });
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    await screen.findByRole("heading", { name: /Mode L1 H2 M1/ });
    fireEvent.keyDown(window, { key: "j" });
    expect(await screen.findByRole("heading", { name: /Mode L1 H2 M2/ })).toBeTruthy();
  });

  it("asks for the model list once while moving between pages that need it", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2`]: { body: headDetail() },
      [`${MODEL}/layers/1/heads/2/modes/3`]: { body: modeDetail({ mode: 3 }) },
    });
    const requests = (path: string) =>
      fetchMock.mock.calls.filter(([r]) => new URL((r as Request).url).pathname === path).length;
    renderAt("/m/planted__shapes/L1/H2");
    fireEvent.click(await screen.findByRole("link", { name: "L1 H2 M3" }));
    expect(await screen.findByRole("heading", { name: /Mode L1 H2 M3/ })).toBeTruthy();
    fireEvent.click(
      within(screen.getByRole("navigation", { name: "Breadcrumb" })).getByRole("link", { name: "L1 H2" }),
    );
    expect(await screen.findByRole("heading", { name: /Head L1 H2/ })).toBeTruthy();
    expect(requests("/api/models")).toBe(1);
    expect(requests(`${MODEL}/layers/1/heads/2`)).toBe(1); // the head page again, from the cache
  });

  it("a malformed mode URL is not found", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] } });
    renderAt("/m/planted__shapes/L1/Hx/M1");
    expect(await screen.findByRole("heading", { name: "Page not found" })).toBeTruthy();
  });

  it("Upload shows the API's message for a refused file", async () => {
    mockApi({ "POST /api/uploads": { status: 415, body: { detail: "not a supported raster image" } } });
    renderAt("/upload");
    const input = (await screen.findByLabelText(/choose an image/i)) as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File(["hello"], "a.txt", { type: "text/plain" })] } });
    expect((await screen.findByRole("alert")).textContent).toContain("not a supported raster image");
  });

  it("an upload link shows the ranked modes", async () => {
    const fetchMock = mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": {
        body: { id: "0123456789abcdef0123456789abcdef", width: 64, height: 64, n_bytes: 10, expires_in_s: 3600 },
      },
      "/api/models": { body: [modelSummary()] },
      [`/api/uploads/0123456789abcdef0123456789abcdef/models/planted__shapes/layers/0/heads/0`]: {
        body: uploadHeadModes(),
      },
      [`${MODEL}/layers/0/heads/0/modes/2`]: { body: modeDetail() },
      [`${MODEL}/layers/0/heads/0/modes/0`]: { body: modeDetail() },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes&layer=0&head=0");
    const first = await screen.findByRole("link", { name: "L0 H0 M2 pos" });
    expect(first.getAttribute("href")).toBe(
      "/m/planted__shapes/L0/H0/M2?sign=pos&basis=faithful&upload=0123456789abcdef0123456789abcdef",
    );
    const yours = screen.getAllByRole("img", { name: /on your image/ });
    expect(yours[0]!.getAttribute("src")).toContain(
      "/api/uploads/0123456789abcdef0123456789abcdef/models/planted__shapes/layers/0/heads/0/modes/2/overlay.png",
    );
    // Pinned to the atlas build the ranking came from, so a rebuild cannot mix the two.
    expect(yours[0]!.getAttribute("src")).toContain(`v=${uploadHeadModes().revision}`);
    await waitFor(() => expect(screen.getAllByRole("img", { name: /on dataset image/ }).length).toBeGreaterThan(0));
    // The dataset's top images of the same build.
    const modeRequest = fetchMock.mock.calls.map(([r]) => (r as Request).url).find((u) => u.includes("/modes/2"));
    expect(new URL(modeRequest!).searchParams.get("v")).toBe(uploadHeadModes().revision);
  });

  it("an expired upload link says so, with no live controls", async () => {
    mockApi({
      "/api/uploads/ffffffffffffffffffffffffffffffff": { status: 404, body: { detail: "no such upload" } },
      "/api/models": { body: [modelSummary()] },
    });
    renderAt("/upload/ffffffffffffffffffffffffffffffff?model=planted__shapes");
    expect(await screen.findByRole("heading", { level: 1, name: "This upload has expired" })).toBeTruthy();
    expect(screen.getByText(/uploads are kept for 24 hours/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Upload an image" }).getAttribute("href")).toBe("/upload");
    expect(screen.queryByLabelText(/choose an image/i)).toBeNull();
    expect(screen.queryByRole("combobox", { name: "Model" })).toBeNull();
  });

  it("an address that cannot be an upload says so without asking the API", async () => {
    const fetchMock = mockApi({ "/api/models": { body: [modelSummary()] } });
    renderAt("/upload/deadbeef");
    expect(await screen.findByRole("heading", { level: 1, name: "Not an upload address" })).toBeTruthy();
    expect(screen.getByText(/This is not an upload address/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Upload an image" }).getAttribute("href")).toBe("/upload");
    expect(screen.queryByLabelText(/choose an image/i)).toBeNull();
    expect(fetchMock.mock.calls.some(([r]) => (r as Request).url.includes("/api/uploads"))).toBe(false);
  });
});

describe("inactive heads and modes (σ = 0)", () => {
  const UPLOAD = { id: "0123456789abcdef0123456789abcdef", width: 64, height: 64, n_bytes: 10, expires_in_s: 3600 };

  it("Mode page says why an inactive mode has no images, without overlays or their controls", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2/modes/3`]: {
        body: modeDetail({ mode: 3, sigma: 0, sigma_fraction: 0, cos: 0, active: false, top_images: [] }),
      },
    });
    renderAt("/m/planted__shapes/L1/H2/M3?sign=pos&basis=faithful");
    const note = await screen.findByRole("note");
    expect(note.textContent).toContain("This mode is inactive. σ = 0");
    expect(note.textContent).toContain("σ = 0: the head's W_q or W_k is zero or rank-deficient");
    expect(note.textContent).toContain("never contributes to attention");
    expect(screen.queryByRole("heading", { name: /Top \d+ images/ })).toBeNull();
    expect(screen.queryByText(/No image of the dataset excites/)).toBeNull();
    expect(screen.queryByRole("group", { name: "Palette" })).toBeNull();
    expect(screen.queryByText("cos u·v")).toBeNull();
    expect(fetchMock.mock.calls.some(([r]) => (r as Request).url.includes("/top/"))).toBe(false);
  });

  it("Head page greys out the inactive modes of a rank-deficient head", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2`]: { body: partlyInactiveHead() },
    });
    renderAt("/m/planted__shapes/L1/H2");
    const row = (await screen.findByRole("link", { name: "L1 H2 M3" })).closest("tr")!;
    expect(row.classList.contains("row-inactive")).toBe(true);
    expect(within(row).getByText("inactive").getAttribute("title")).toContain("never contributes to attention");
    expect(within(row).queryAllByRole("link")).toHaveLength(1); // no score links
    const active = screen.getByRole("link", { name: "L1 H2 M0" }).closest("tr")!;
    expect(active.classList.contains("row-inactive")).toBe(false);
    expect(screen.getAllByText("inactive")).toHaveLength(2);
    expect(screen.getByText(/2 of 4 modes inactive \(σ = 0\)/)).toBeTruthy();
  });

  it("Head page of an inactive head says so instead of a weighted cosine and a spectrum", async () => {
    const dead = partlyInactiveHead();
    const modes = dead.modes.map((m) => ({
      ...m,
      sigma: 0,
      cos: 0,
      active: false,
      best_image: { pos: null, neg: null },
    }));
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2`]: { body: headDetail({ weighted_cos: null, active: false, modes }) },
    });
    renderAt("/m/planted__shapes/L1/H2");
    expect((await screen.findByRole("note")).textContent).toContain("This head is inactive:");
    expect(screen.queryByText(/σ-weighted cosine of this head/)).toBeNull();
    expect(document.querySelector("figure.chart")).toBeNull();
    expect(screen.getAllByText("inactive")).toHaveLength(4);
  });

  it("Model page hatches inactive heads and explains them", async () => {
    const detail = modelDetail({
      head_weighted_cos: [
        [0.5, null, 0.6],
        [null, null, null],
      ],
    });
    detail.layers[1] = { ...detail.layers[1]!, weighted_cos: null, unweighted_cos: null, weighted_cos_scaled: null };
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODEL]: { body: detail } });
    renderAt("/m/planted__shapes");
    const cell = await screen.findByRole("link", { name: "L0 H1, inactive (σ = 0)" });
    expect(cell.classList.contains("head-cell-inactive")).toBe(true);
    expect(screen.getByRole("link", { name: "L0 H0, weighted cosine 0.500" })).toBeTruthy();
    expect(screen.getByText(/Hatched cells are inactive heads/)).toBeTruthy();
  });

  it("the upload ranking leaves inactive modes out and counts them", async () => {
    const ranked = uploadHeadModes();
    const modes = [
      ...ranked.modes,
      { ...ranked.modes[0]!, rank: 2, mode: 3, sigma: 0, cos: 0, active: false, contribution: 0 },
    ];
    mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": { body: UPLOAD },
      "/api/models": { body: [modelSummary()] },
      [`/api/uploads/0123456789abcdef0123456789abcdef/models/planted__shapes/layers/0/heads/0`]: {
        body: uploadHeadModes({ modes }),
      },
      [`${MODEL}/layers/0/heads/0/modes/2`]: { body: modeDetail() },
      [`${MODEL}/layers/0/heads/0/modes/0`]: { body: modeDetail() },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes&layer=0&head=0");
    expect(await screen.findByRole("link", { name: "L0 H0 M2 pos" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "L0 H0 M0 pos" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "L0 H0 M3 pos" })).toBeNull();
    expect(screen.getByText(/1 inactive mode \(σ = 0\) not ranked/)).toBeTruthy();
  });

  it("the upload ranking of an inactive head says so", async () => {
    const modes = uploadHeadModes().modes.map((m) => ({ ...m, sigma: 0, active: false, contribution: 0 }));
    mockApi({
      "/api/uploads/0123456789abcdef0123456789abcdef": { body: UPLOAD },
      "/api/models": { body: [modelSummary()] },
      [`/api/uploads/0123456789abcdef0123456789abcdef/models/planted__shapes/layers/0/heads/0`]: {
        body: uploadHeadModes({ modes }),
      },
    });
    renderAt("/upload/0123456789abcdef0123456789abcdef?model=planted__shapes&layer=0&head=0");
    expect(await screen.findByText(/This head is inactive: every σ is 0/)).toBeTruthy();
    expect(document.querySelector(".ranked-list")).toBeNull();
  });
});
