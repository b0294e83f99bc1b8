import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { headDetail, modeDetail, modelDetail, modelSummary, o3Result, uploadHeadModes } from "../test/fixtures";
import { mockApi, renderAt } from "../test/mockApi";

const MODEL = "/api/models/planted__shapes";

describe("pages", () => {
  it("Home lists the models with the demo label", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODEL]: { body: modelDetail() } });
    renderAt("/");
    expect(await screen.findByRole("link", { name: "planted-vit" })).toBeTruthy();
    expect(screen.getByText("offline demo · random weights")).toBeTruthy();
    expect(await screen.findByText(/all models/)).toBeTruthy();
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
    mockApi({ [MODEL]: { body: modelDetail({ has_o3: true }) }, [`${MODEL}/o3`]: { body: o3Result() } });
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
    const fetchMock = mockApi({ [MODEL]: { body: modelDetail() } });
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
    mockApi({ [MODEL]: { body: modelDetail() } });
    renderAt("/m/planted__shapes");
    const cell = await screen.findByRole("link", { name: "L1 H1, weighted cosine -0.200" });
    expect(cell.getAttribute("href")).toBe("/m/planted__shapes/L1/H1");
  });

  it("Head page lists modes with their best image and links", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [`${MODEL}/layers/1/heads/2`]: { body: headDetail() } });
    renderAt("/m/planted__shapes/L1/H2");
    const link = await screen.findByRole("link", { name: "L1 H2 M3" });
    expect(link.getAttribute("href")).toBe("/m/planted__shapes/L1/H2/M3?sign=pos&basis=faithful");
    expect(screen.getAllByText("degenerate").length).toBeGreaterThan(0);
    expect(document.querySelectorAll("img.thumb")).toHaveLength(4);
  });

  it("Mode page shows the top images with the overlay options of its URL", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2/modes/1`]: { body: modeDetail({ degenerate: true }) },
    });
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful&channel=query&palette=orange_blue");
    const images = await screen.findAllByRole("img", { name: /query map \(orange\) of L1 H2 M1 pos/ });
    expect(images).toHaveLength(2);
    expect(images[0]!.getAttribute("src")).toContain("channel=query&palette=orange_blue&blend=0.50");
    expect(screen.getByText(/Degenerate mode/)).toBeTruthy();
    expect(screen.getByText("red square")).toBeTruthy();
    const request = fetchMock.mock.calls.map(([r]) => (r as Request).url).find((u) => u.includes("/modes/1"));
    expect(request).toContain("sign=pos&basis=faithful");
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
    mockApi({
      "/api/uploads/abc123": { body: { id: "abc123", width: 64, height: 64, n_bytes: 10, expires_in_s: 3600 } },
      "/api/models": { body: [modelSummary()] },
      [`/api/uploads/abc123/models/planted__shapes/layers/0/heads/0`]: { body: uploadHeadModes() },
      [`${MODEL}/layers/0/heads/0/modes/2`]: { body: modeDetail() },
      [`${MODEL}/layers/0/heads/0/modes/0`]: { body: modeDetail() },
    });
    renderAt("/upload/abc123?model=planted__shapes&layer=0&head=0");
    const first = await screen.findByRole("link", { name: "L0 H0 M2 pos" });
    expect(first.getAttribute("href")).toBe("/m/planted__shapes/L0/H0/M2?sign=pos&basis=faithful");
    const yours = screen.getAllByRole("img", { name: /on your image/ });
    expect(yours[0]!.getAttribute("src")).toContain(
      "/api/uploads/abc123/models/planted__shapes/layers/0/heads/0/modes/2/overlay.png",
    );
    await waitFor(() => expect(screen.getAllByRole("img", { name: /on dataset image/ }).length).toBeGreaterThan(0));
  });

  it("an expired upload link says so", async () => {
    mockApi({
      "/api/uploads/gone": { status: 404, body: { detail: "upload not found" } },
      "/api/models": { body: [] },
    });
    renderAt("/upload/gone");
    expect((await screen.findByRole("alert")).textContent).toContain("may have expired");
  });
});
