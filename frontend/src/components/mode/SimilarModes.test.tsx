import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { SimilarModes } from "../../api/client";
import { modeDetail, modelSummary } from "../../test/fixtures";
import { mockApi, renderAt } from "../../test/mockApi";

const MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/1";
const SIMILAR = `${MODE}/similar` as const;
const URL_ = "/m/planted__shapes/L1/H2/M1?sign=neg&basis=exact";

function similar(overrides: Partial<SimilarModes> = {}): SimilarModes {
  return {
    model: "planted__shapes",
    layer: 1,
    head: 2,
    mode: 1,
    sign: "neg",
    basis: "exact",
    dataset: "shapes",
    rule: "similarity of two signed modes = Pearson correlation of their mean scores per class",
    same_dataset_rule: "two atlases are on the same dataset when …",
    n_classes: 1000,
    largest_class_images: 50,
    reliable_class_images: 5,
    min_classes: 20,
    too_few: null,
    top_images: 8,
    models: [
      {
        model: "planted__shapes",
        model_id: "planted-vit",
        revision: "0123456789abcdef",
        compared: 1534,
        modes: [
          {
            layer: 0,
            head: 1,
            mode: 4,
            sign: "pos",
            sigma: 2.5,
            correlation: 0.8312,
            shared_top_images: 3,
            top_images: 8,
          },
        ],
      },
      {
        model: "dino__shapes",
        model_id: "facebook/dino-vits16",
        revision: "fedcba9876543210",
        compared: 2000,
        modes: [
          {
            layer: 5,
            head: 0,
            mode: 12,
            sign: "neg",
            sigma: 0.75,
            correlation: -0.0421,
            shared_top_images: 0,
            top_images: 1,
          },
          {
            layer: 2,
            head: 1,
            mode: 0,
            sign: "pos",
            sigma: 0.5,
            correlation: -0.05,
            shared_top_images: 0,
            top_images: 0,
          },
        ],
      },
    ],
    unavailable: null,
    missing_statistics: [],
    without_basis: [],
    other_datasets: ["tiny__photos"],
    ...overrides,
  };
}

describe("similar modes on the mode page", () => {
  it("lists each model's similar modes as links with their correlation, shared top images and σ", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail({ sign: "neg", basis: "exact" }) },
      [SIMILAR]: { body: similar() },
    });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Similar modes" });
    const own = (await within(section).findByText(/planted-vit \(this model\)/)).parentElement!;
    const link = within(own).getByRole("link", { name: "L0 H1 M4 pos" });
    expect(link.getAttribute("href")).toBe("/m/planted__shapes/L0/H1/M4?sign=pos&basis=exact");
    expect(own.textContent).toContain("r = 0.83 over 1,000 classes · 3 of 8 top images shared · σ = 2.500");
    expect(own.textContent).toContain("1,534 signed modes compared.");
    const other = within(section).getByText("facebook/dino-vits16").parentElement!;
    expect(within(other).getByRole("link", { name: "L5 H0 M12 neg" }).getAttribute("href")).toBe(
      "/m/dino__shapes/L5/H0/M12?sign=neg&basis=exact",
    );
    expect(other.textContent).toContain("r = -0.04 over 1,000 classes · 0 of 1 top image shared · σ = 0.750");
    expect(other.textContent).toContain("r = -0.05 over 1,000 classes · no top images listed · σ = 0.500");
    expect(section.textContent).toContain("1 served model built on other images is not compared.");
    expect(section.textContent).toContain("Pearson r over the 1,000 classes of shapes that have scored images");
    expect(within(section).queryByText(/Not a finding/)).toBeNull();
  });

  it("folds the list away as not a finding when the classes are too few", async () => {
    const tooFew = "each class mean rests on at most 1 image (fewer than 5): the correlation compares a few images";
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail({ sign: "neg", basis: "exact" }) },
      [SIMILAR]: { body: similar({ too_few: tooFew, largest_class_images: 1 }) },
    });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Similar modes" });
    const note = await within(section).findByRole("note");
    expect(note.textContent).toBe(`Not a finding: ${tooFew}.`);
    const fold = section.querySelector("details.class-modes-unranked") as HTMLDetailsElement;
    expect(fold.open).toBe(false);
    expect(fold.querySelector("summary")?.textContent).toBe("The most correlated modes anyway (not a finding)");
    expect(within(fold).getByRole("link", { name: "L0 H1 M4 pos", hidden: true })).toBeTruthy();
  });

  it("says why there is nothing to compare", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail({ sign: "neg", basis: "exact" }) },
      [SIMILAR]: { body: similar({ models: [], unavailable: "the dataset has no class labels, so no class means" }) },
    });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Similar modes" });
    expect((await within(section).findByText(/No similar modes/)).textContent).toBe(
      "No similar modes: the dataset has no class labels, so no class means.",
    );
  });
});
