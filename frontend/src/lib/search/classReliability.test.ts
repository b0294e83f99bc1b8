import { describe, expect, it } from "vitest";
import { tooFewImages, unrankableDataset } from "./classReliability";

describe("class reliability", () => {
  it("marks a class under the threshold, not one at it", () => {
    expect(tooFewImages(4, 5)).toBe(true);
    expect(tooFewImages(5, 5)).toBe(false);
  });

  it("says that a dataset of one photo per class cannot be ranked", () => {
    expect(unrankableDataset("imagenet-samples", 1, 5)).toBe(
      "Every class of imagenet-samples has 1 image: selectivity cannot be ranked reliably " +
        "(it needs 5 images per class or more; with fewer it is little more than each image's own z-score).",
    );
    expect(unrankableDataset("shapes", 3, 5)).toMatch(/^Every class of shapes has at most 3 images:/);
  });

  it("says nothing when some class is large enough", () => {
    expect(unrankableDataset("imagenet-val", 50, 5)).toBeNull();
    expect(unrankableDataset("x", 5, 5)).toBeNull();
  });
});
