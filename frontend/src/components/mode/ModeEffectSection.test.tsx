import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { ModeEffect } from "../../api/client";
import { datasetImageMaps, headDetail, modeDetail, modelSummary } from "../../test/fixtures";
import { mockApi, renderAt } from "../../test/mockApi";

const MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/1";
const URL_ = "/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful";
const NOT_MEASURED =
  "the attention moved by each mode was not measured for this atlas (built without --effects, or before atlas " +
  "format 5): rebuild it with --effects to measure it";

/** 10 images: 2 below the first edge (down to 0), 4 bins of 0.05 from 0.01, 1 from 0.21 on (up to 0.3). */
function effect(overrides: Partial<ModeEffect> = {}): ModeEffect {
  return {
    count: 10,
    mean: 0.06,
    std: 0.08,
    minimum: 0,
    maximum: 0.3,
    edges: [0.01, 0.06, 0.11, 0.16, 0.21],
    counts: [2, 4, 2, 1, 0, 1],
    binning: "64 bins per mode ...",
    definition: "mean over the patch queries of ½ Σ_j |A_ij − A⁻ⁿ_ij|",
    top_images: [7, 3].map((index, rank) => ({
      image_id: `planted__shapes~${index}`,
      dataset_index: index,
      effect: rank === 0 ? 0.3 : 0.2,
      label: null,
      source: `image${index}.png`,
      thumbnail_url: `/api/images/planted__shapes~${index}`,
    })),
    ...overrides,
  };
}

describe("attention moved by a mode", () => {
  it("says the mean in words and numbers, draws its distribution and opens its top images with their maps", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail({ effect: effect(), effect_missing: null }) },
      "/api/models/planted__shapes/images/planted__shapes~7/maps": {
        body: datasetImageMaps({ model: "planted__shapes", image_id: "planted__shapes~7", score: 4.5 }),
      },
    });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Attention moved by this mode" });
    expect(section.querySelector(".effect-lead")?.textContent).toContain(
      "Removing L1 H2 M1 from the head's logits moves on average 6.0 % (0.060) of each patch's attention row",
    );
    expect(within(section).getByText("6.0 % (0.060) ± 0.080")).toBeTruthy();
    const chart = await within(section).findByRole("img", { name: /^Histogram of the attention moved \(0 to 1\)/ });
    const summary = chart.getAttribute("aria-label")!;
    expect(summary).toContain("of L1 H2 M1 over 10 images in 4 bins from 0.010 to 0.210");
    expect(summary).not.toContain("fires");
    expect(summary).toContain("The top 2 images: attention moved (0 to 1) 0.200 to 0.300 (lines).");
    const cards = within(section).getAllByRole("button", { name: /by attention moved: open its maps/ });
    expect(cards.map((c) => c.querySelector("img")?.getAttribute("src"))).toEqual([
      "/api/images/planted__shapes~7",
      "/api/images/planted__shapes~3",
    ]);
    expect(within(section).getByText("#1: moves 30.0 % (0.300)")).toBeTruthy();
    fireEvent.click(cards[0]!);
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByRole("heading", { level: 2 }).textContent).toBe(
      "L1 H2 M1 pos: image by attention moved #1 of 2",
    );
    await waitFor(() => expect(dialog.textContent).toContain("4.500")); // its score under this mode, fetched
  });

  it("says how to measure it when the atlas did not", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail({ effect: null, effect_missing: NOT_MEASURED }) },
    });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Attention moved by this mode" });
    expect(within(section).getByRole("note").textContent).toBe(`Not measured: ${NOT_MEASURED}.`);
  });

  it("shows each mode's effect beside σ on the head page, on a fixed 0 to 100 % scale", async () => {
    const head = headDetail();
    const means = [0.002, 0.25, 0, 1e-5];
    mockApi({
      "/api/models": { body: [modelSummary()] },
      "/api/models/planted__shapes/layers/1/heads/2": {
        body: { ...head, modes: head.modes.map((m, i) => ({ ...m, effect_mean: means[i] })), effects_missing: null },
      },
    });
    renderAt("/m/planted__shapes/L1/H2");
    const table = await screen.findByRole("table");
    const headers = within(table)
      .getAllByRole("columnheader")
      .map((h) => h.textContent);
    expect(headers.indexOf("attention moved?")).toBe(headers.findIndex((h) => h?.startsWith("σ")) + 1);
    const cells = [...table.querySelectorAll(".effect-cell")];
    expect(cells.map((c) => c.textContent)).toEqual([
      "0.2 % (0.002)",
      "25.0 % (0.250)",
      "0.0 % (0.000)",
      "0.0 % (1.00e-5)",
    ]);
    expect(cells.map((c) => (c.querySelector(".effect-bar > span") as HTMLElement).style.width)).toEqual([
      "0.2%",
      "25%",
      "0%",
      "0.001%",
    ]);
    expect(screen.getByText(/strong but unused/)).toBeTruthy();
  });
});
