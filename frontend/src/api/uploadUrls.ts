/**
 * Addresses of the upload images the browser loads with `<img>` (PNG responses, not JSON, so they
 * are not fetched through the client). Paths follow the OpenAPI schema's upload routes.
 */
import type { OverlayOptions } from "../lib/overlay";
import { overlaySrc } from "../lib/overlay";
import type { Basis, Sign } from "./client";

const enc = encodeURIComponent;

export function uploadImageUrl(uploadId: string, model: string): string {
  return `/api/uploads/${enc(uploadId)}/models/${enc(model)}/image.png`;
}

export interface UploadModeRef {
  uploadId: string;
  model: string;
  layer: number;
  head: number;
  mode: number;
  sign: Sign;
  basis: Basis;
}

export function uploadOverlayUrl(ref: UploadModeRef, options: OverlayOptions): string {
  const path = `/api/uploads/${enc(ref.uploadId)}/models/${enc(ref.model)}/layers/${ref.layer}/heads/${ref.head}/modes/${ref.mode}/overlay.png`;
  return overlaySrc(`${path}?sign=${ref.sign}&basis=${ref.basis}`, options);
}
