import { describe, expect, it } from "vitest";
import { modelSummary } from "../../test/fixtures";
import { atlasName, slugDataset } from "./atlasNames";

describe("atlas names", () => {
  const models = [
    modelSummary(),
    modelSummary({ slug: "vit__photos", model_id: "vit-tiny", dataset: { name: "photos", n_images: 3, n_skipped: 0 } }),
    modelSummary({ slug: "vit__shapes", model_id: "vit-tiny" }),
  ];

  it("is the model id, with the dataset when two atlases share the model", () => {
    expect(atlasName(models, "planted__shapes")).toBe("planted-vit");
    expect(atlasName(models, "vit__photos")).toBe("vit-tiny on photos");
    expect(atlasName(models, "vit__shapes")).toBe("vit-tiny on shapes");
    expect(atlasName([], "gone__x", "gone-vit")).toBe("gone-vit");
    expect(atlasName([], "gone__x")).toBe("gone__x");
  });

  it("reads the dataset from a slug", () => {
    expect(slugDataset("facebook--dino-vits16__imagenette")).toBe("imagenette");
    expect(slugDataset("planted")).toBeNull();
  });
});
