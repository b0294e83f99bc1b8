/** Addresses of a dataset image under any signed mode (`/api/models/{model}/images/{image_id}/…`). */
import type { SignedModeAt } from "../../api/resources";
import { modeName } from "../common/format";
import { stepIndex } from "./neighbours";

/** The overlay PNG of the image under the mode, for the atlas build `revision` (add options with `overlaySrc`). */
export function datasetImageOverlayUrl(model: string, revision: string, imageId: string, at: SignedModeAt): string {
  const params = new URLSearchParams({
    layer: String(at.layer),
    head: String(at.head),
    mode: String(at.mode),
    sign: at.sign,
    basis: at.basis,
    v: revision,
  });
  return `/api/models/${encodeURIComponent(model)}/images/${encodeURIComponent(imageId)}/overlay.png?${params}`;
}

/** "L5 H3 M7 pos". */
export function signedModeName(at: SignedModeAt): string {
  return `${modeName(at.layer, at.head, at.mode)} ${at.sign}`;
}

/** The same mode's neighbour in its head (`delta` = ±1), or null past either end. */
export function neighbourMode(at: SignedModeAt, delta: -1 | 1, nModes: number): SignedModeAt | null {
  const mode = stepIndex(at.mode, delta, nModes);
  return mode === null ? null : { ...at, mode };
}
