import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { headDetail, modelSummary } from "../../test/fixtures";
import { currentUrl, mockApi, renderAt } from "../../test/mockApi";

// modelSummary(): planted__shapes, 2 layers, 3 heads, 4 modes.
const PLANTED = modelSummary();
const VIT_A = modelSummary({
  slug: "vit__a",
  model_slug: "vit",
  model_id: "vit-tiny",
  dataset: { ...PLANTED.dataset, name: "a" },
});
const VIT_B = modelSummary({
  slug: "vit__b",
  model_slug: "vit",
  model_id: "vit-tiny",
  dataset: { ...PLANTED.dataset, name: "b" },
});

function serve() {
  mockApi({ "/api/models": { body: [PLANTED, VIT_A, VIT_B] } });
}

/** The not-found page's text, once shown, and that it has no control of a browsing page. */
async function notFound(): Promise<string> {
  const heading = await screen.findByRole("heading", { level: 1, name: "Page not found" });
  const page = heading.closest("section")!;
  expect(screen.queryByRole("navigation", { name: /Neighbouring/ })).toBeNull();
  expect(screen.queryByRole("group", { name: "Sign" })).toBeNull();
  expect(screen.queryByRole("group", { name: "Basis" })).toBeNull();
  return page.textContent ?? "";
}

describe("model addresses", () => {
  it("an unknown model lists the served models", async () => {
    serve();
    renderAt("/m/resnet/L0/H0/M0");
    expect(await notFound()).toContain("No model “resnet” is served here.");
    const served = screen.getByRole("list", { name: "Served models" });
    expect(
      within(served)
        .getAllByRole("link")
        .map((a) => a.getAttribute("href")),
    ).toEqual(["/m/planted__shapes", "/m/vit__a", "/m/vit__b"]);
  });

  it("a layer, head or mode out of range says what exists and links to the nearest page", async () => {
    serve();
    renderAt("/m/planted__shapes/L99/H0/M0?sign=neg&basis=faithful");
    expect(await notFound()).toContain("This model has 2 layers, L0–L1.");
    expect(screen.getByRole("link", { name: "The nearest that exists: L1 H0 M0" }).getAttribute("href")).toBe(
      "/m/planted__shapes/L1/H0/M0?sign=neg&basis=faithful",
    );
  });

  it("a head out of range on the head page", async () => {
    serve();
    renderAt("/m/planted__shapes/L1/H42");
    expect(await notFound()).toContain("This model has 3 heads per layer, H0–H2.");
    expect(screen.getByRole("link", { name: "The nearest that exists: L1 H2" }).getAttribute("href")).toBe(
      "/m/planted__shapes/L1/H2",
    );
  });

  it("a mode out of range", async () => {
    serve();
    renderAt("/m/planted__shapes/L0/H0/M9999");
    expect(await notFound()).toContain("This model has 4 modes per head, M0–M3.");
  });

  it("a malformed segment says how addresses are written", async () => {
    serve();
    renderAt("/m/planted__shapes/Lx/H0");
    expect(await notFound()).toContain("L0–L1, H0–H2 and M0–M3");
  });

  it("a short name that names one atlas is replaced by the canonical address, query kept", async () => {
    mockApi({
      "/api/models": { body: [PLANTED, VIT_A, VIT_B] },
      "/api/models/planted__shapes/layers/0/heads/1": { body: headDetail() },
    });
    renderAt("/m/planted/L0/H1?basis=exact");
    await waitFor(() => expect(currentUrl()).toBe("/m/planted__shapes/L0/H1?basis=exact"));
    expect(await screen.findByRole("heading", { level: 1, name: /Head L0 H1/ })).toBeTruthy();
  });

  it.each([
    ["/m/dino-vits16/L1/H2/M0?sign=neg", "/m/facebook--dino-vits16__imagenet-val/L1/H2/M0?sign=neg"],
    ["/m/facebook/dino-vits16/L1/H2/M0", "/m/facebook--dino-vits16__imagenet-val/L1/H2/M0"],
    ["/m/facebook/dino-vits16", "/m/facebook--dino-vits16__imagenet-val"],
  ])("the name search shows, or the model id as two segments: %s is replaced by %s", async (address, canonical) => {
    const dino = modelSummary({
      slug: "facebook--dino-vits16__imagenet-val",
      model_slug: "facebook--dino-vits16",
      model_id: "facebook/dino-vits16",
    });
    mockApi({ "/api/models": { body: [PLANTED, dino] } });
    renderAt(address);
    // Two lazy pages load on the way (the address page, then the mode page): more than the default second on a busy machine.
    await waitFor(() => expect(currentUrl()).toBe(canonical), { timeout: 10_000 });
  });

  it("an address under a model that is none of its pages says how they are written", async () => {
    serve();
    renderAt("/m/planted__shapes/L0/H0/M0/extra");
    expect(await notFound()).toContain("This address is not a page of planted-vit.");
  });

  it("a short name that several atlases share lists them", async () => {
    serve();
    renderAt("/m/vit/modes");
    expect(await notFound()).toContain("“vit” names 2 served atlases.");
    const links = within(screen.getByRole("list", { name: "Atlases with this name" })).getAllByRole("link");
    expect(links.map((a) => [a.textContent, a.getAttribute("href")])).toEqual([
      ["vit-tiny on a", "/m/vit__a/modes"],
      ["vit-tiny on b", "/m/vit__b/modes"],
    ]);
  });
});
