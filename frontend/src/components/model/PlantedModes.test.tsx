import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { PlantedMode } from "../../api/client";
import { headDetail, modeDetail, modelDetail, modelSummary } from "../../test/fixtures";
import { mockApi, renderAt } from "../../test/mockApi";

const MODEL = "/api/models/planted__shapes";
const RED_BLUE: PlantedMode = {
  layer: 1,
  head: 2,
  mode: 1,
  sign: "pos",
  query: "red",
  key: "blue",
  sigma: 9,
  kind: "contextual",
  description: "red patches attend to blue patches",
  expected_look: "top images contain red and blue squares",
};
const planted = { planted: true, planted_modes: [RED_BLUE] };

describe("planted modes", () => {
  it("the model page lists each planted mode with a link, what it does and its expected look", async () => {
    mockApi({
      "/api/models": { body: [modelSummary(planted)] },
      [MODEL]: { body: modelDetail(planted) },
    });
    renderAt("/m/planted__shapes");
    const section = await screen.findByRole("region", { name: "Planted modes" });
    const item = within(section).getByRole("listitem");
    expect(within(item).getByRole("link", { name: "L1 H2 M1 pos" }).getAttribute("href")).toBe(
      "/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful",
    );
    expect(item.textContent).toContain("red patches attend to blue patches");
    expect(item.textContent).toContain("Expected: top images contain red and blue squares.");
  });

  it("a planted mode's page states its expected look; the other sign points to the planted one", async () => {
    mockApi({
      "/api/models": { body: [modelSummary(planted)] },
      [`${MODEL}/layers/1/heads/2/modes/1`]: { body: modeDetail() },
    });
    const { unmount } = renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    const note = await screen.findByText(/^Planted mode/);
    expect(note.closest("[role=note]")?.textContent).toBe(
      "Planted mode: red patches attend to blue patches. Expected: top images contain red and blue squares.",
    );
    unmount();
    renderAt("/m/planted__shapes/L1/H2/M1?sign=neg&basis=faithful");
    const other = (await screen.findByText(/^Planted mode/)).closest("[role=note]")!;
    expect(other.textContent).toContain("This page shows the other sign");
  });

  it("its head's page names it, with a link; other modes and models have no note", async () => {
    mockApi({
      "/api/models": { body: [modelSummary(planted)] },
      [`${MODEL}/layers/1/heads/2`]: { body: headDetail() },
      [`${MODEL}/layers/1/heads/2/modes/0`]: { body: modeDetail({ mode: 0 }) },
    });
    const { unmount } = renderAt("/m/planted__shapes/L1/H2");
    const note = (await screen.findByText(/^Planted mode/)).closest("[role=note]")!;
    expect(within(note as HTMLElement).getByRole("link", { name: "L1 H2 M1 pos" })).toBeTruthy();
    unmount();
    renderAt("/m/planted__shapes/L1/H2/M0?sign=pos&basis=faithful");
    await screen.findByRole("heading", { level: 1, name: /Mode L1 H2 M0/ });
    expect(screen.queryByText(/^Planted mode/)).toBeNull();
  });
});
