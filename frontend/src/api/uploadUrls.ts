/**
 * Addresses of the upload images the browser loads with `<img>` (PNG responses, not JSON, so they
 * are not fetched through the client). Paths follow the OpenAPI schema's upload routes.
 */
import type { OverlayOptions } from "../lib/mode/overlay";
import { overlaySrc } from "../lib/mode/overlay";
import type { Basis, Sign } from "./client";

const enc = encodeURIComponent;

/** An upload id as the backend makes them (`UPLOAD_ID_PATTERN` in backend/services/uploads.py). */
const UPLOAD_ID = /^[0-9a-f]{32}$/;

/** Whether `id` can name an upload at all (whether it still exists only the API can say). */
export function isUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

/**
 * `revision` pins the address to the atlas build the page shows: the browser may cache it until the
 * upload expires, and it fails (404) rather than show another build's result once the atlas is rebuilt.
 */
export function uploadImageUrl(uploadId: string, model: string, revision: string): string {
  return `/api/uploads/${enc(uploadId)}/models/${enc(model)}/image.png?v=${enc(revision)}`;
}

export interface UploadModeRef {
  uploadId: string;
  model: string;
  revision: string;
  layer: number;
  head: number;
  mode: number;
  sign: Sign;
  basis: Basis;
}

export function uploadOverlayUrl(ref: UploadModeRef, options: OverlayOptions): string {
  const path = `/api/uploads/${enc(ref.uploadId)}/models/${enc(ref.model)}/layers/${ref.layer}/heads/${ref.head}/modes/${ref.mode}/overlay.png`;
  return overlaySrc(`${path}?sign=${ref.sign}&basis=${ref.basis}&v=${enc(ref.revision)}`, options);
}
