/** URL builders and parsers: every view of the dashboard is a URL. */
import type { Basis, Sign } from "../../api/client";
import { BASES, parseEnum, SIGNS } from "../../api/enums";
import { type OverlayOptions, setOverlayParams } from "../mode/overlay";
import { type AblationChoice, setAblationParams } from "../upload/ablation";

export interface ModeQuery {
  sign: Sign;
  basis: Basis;
  /** An upload shown on the mode page beside the dataset ("Try your image", `upload=<id>`). */
  upload?: string | null | undefined;
}

/** The mode page's parameter naming an attached upload. */
export const UPLOAD_PARAM = "upload";

export const DEFAULT_MODE_QUERY: ModeQuery = { sign: "pos", basis: "faithful" };

const enc = encodeURIComponent;

export function modelPath(model: string): string {
  return `/m/${enc(model)}`;
}

export function headPath(model: string, layer: number, head: number): string {
  return `${modelPath(model)}/L${layer}/H${head}`;
}

export function modePath(
  model: string,
  layer: number,
  head: number,
  mode: number,
  query: ModeQuery = DEFAULT_MODE_QUERY,
): string {
  const params = new URLSearchParams({ sign: query.sign, basis: query.basis });
  if (query.upload) params.set(UPLOAD_PARAM, query.upload);
  return `${headPath(model, layer, head)}/M${mode}?${params.toString()}`;
}

/** The mode index of a model (every signed mode in one table); `search` from `modeIndexSearch`. */
export function modeIndexPath(model: string, search = ""): string {
  return `${modelPath(model)}/modes${search}`;
}

/** Every class of the served datasets. */
export function classesPath(): string {
  return "/classes";
}

/** One class across every served model. */
export function classPath(label: string): string {
  return `/classes/${enc(label)}`;
}

/** The draft list of this browser (collected with "Add to list"). */
export function listsPath(): string {
  return "/lists";
}

/** A shared list (`POST /api/lists` answered its id). */
export function listPath(listId: string): string {
  return `/lists/${enc(listId)}`;
}

/** The full search results for `query`. */
export function searchPath(query: string): string {
  return `/search?${new URLSearchParams({ q: query }).toString()}`;
}

export interface UploadView {
  model?: string | undefined;
  layer?: number | undefined;
  head?: number | undefined;
  basis?: Basis | undefined;
  patch?: number | null | undefined;
  /** Written only where they differ from the defaults. */
  options?: OverlayOptions | undefined;
  /** The signed mode of the head to mark in the ranking (the mode page the view was opened from). */
  highlight?: SignedMode | null | undefined;
  /** The head's modes to remove (the "Remove modes" panel). */
  ablation?: AblationChoice | null | undefined;
}

export interface SignedMode {
  mode: number;
  sign: Sign;
}

export function uploadPath(uploadId?: string, view: UploadView = {}): string {
  if (!uploadId) return "/upload";
  const params = new URLSearchParams();
  if (view.model) params.set("model", view.model);
  if (view.layer !== undefined) params.set("layer", String(view.layer));
  if (view.head !== undefined) params.set("head", String(view.head));
  if (view.basis) params.set("basis", view.basis);
  if (view.patch !== undefined && view.patch !== null) params.set("patch", String(view.patch));
  if (view.highlight) {
    params.set("mode", String(view.highlight.mode));
    params.set("sign", view.highlight.sign);
  }
  setAblationParams(params, view.ablation);
  if (view.options) setOverlayParams(params, view.options);
  const qs = params.toString();
  return `/upload/${enc(uploadId)}${qs ? `?${qs}` : ""}`;
}

/** Parses a prefixed index segment such as `L8` (prefix `L`); `null` when malformed. */
export function parseIndexSegment(segment: string | undefined, prefix: string): number | null {
  if (!segment) return null;
  const match = new RegExp(`^${prefix}(\\d{1,6})$`).exec(segment);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Parses a non-negative integer query value; `null` when absent or malformed. */
export function parseIndexParam(value: string | null): number | null {
  return value !== null && /^\d{1,6}$/.test(value) ? Number(value) : null;
}

/** The sign of a URL; `pos` when absent or unknown. */
export function parseSign(value: string | null): Sign {
  return parseEnum(SIGNS, value, "pos");
}

/** The basis of a URL; `faithful` when absent or unknown. */
export function parseBasis(value: string | null): Basis {
  return parseEnum(BASES, value, "faithful");
}
