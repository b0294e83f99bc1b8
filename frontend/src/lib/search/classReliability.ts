/**
 * Whether a class's selectivities can be trusted: a class mean over fewer than `reliable` images
 * (the server's `reliable_class_images`, docs/method.md#per-mode-statistics) is little more than those
 * images' own z-scores, so it is marked, and a dataset whose every class is that small has no ranking
 * of modes by selectivity worth presenting as a finding.
 */
import { count } from "../common/format";

/** Whether a class of `n` images is too small for its selectivities to be relied on. */
export function tooFewImages(n: number, reliable: number): boolean {
  return n < reliable;
}

/** What to say when every class of `dataset` (the largest has `largest` images) is too small; null when not. */
export function unrankableDataset(dataset: string, largest: number, reliable: number): string | null {
  if (!tooFewImages(largest, reliable)) return null;
  const size = largest <= 1 ? "1 image" : `at most ${count(largest, "image")}`;
  return (
    `Every class of ${dataset} has ${size}: selectivity cannot be ranked reliably ` +
    `(it needs ${count(reliable, "image")} per class or more; with fewer it is little more than each image's own z-score).`
  );
}
