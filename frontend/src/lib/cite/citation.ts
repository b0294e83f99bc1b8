/**
 * The citation of a mode or head page: what it is (model and weights, atlas revision, dataset, layer, head,
 * mode, sign, basis), its address and the date it was read. Pages take no revision pin (`?v=` pins API
 * addresses only), so the atlas revision is named in the text: a reader can tell when the atlas was rebuilt.
 */
import type { Basis, ModelSummary, Sign } from "../../api/client";
import { count, modeName } from "../common/format";

/** Where the cited page is: a signed mode, or a head (`mode` and `sign` null). */
export type CitedPosition = { layer: number; head: number; basis: Basis } & (
  { mode: number; sign: Sign } | { mode: null; sign: null }
);

/** What the citation names. */
export type CitedView = CitedPosition & {
  model: Pick<ModelSummary, "model_id" | "weights_revision" | "revision" | "dataset">;
};

/** The software as `CITATION.cff` names it (`GET /api/citation`); null while it loads. */
export interface CitedSoftware {
  title: string;
  version: string;
}

export const WEIGHTS_NOT_RECORDED = "revision not recorded";

/** `YYYY-MM-DD` of `date` in the reader's time zone: the day they read the page. */
export function accessDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** What is cited, in words: "mode L3 H2 M0 (sign pos, basis faithful)" or "head L3 H2 (basis faithful)". */
export function citedName(view: CitedPosition): string {
  if (view.mode === null) return `head ${modeName(view.layer, view.head)} (basis ${view.basis})`;
  return `mode ${modeName(view.layer, view.head, view.mode)} (sign ${view.sign}, basis ${view.basis})`;
}

/** One line to paste into a paper's text or a footnote. */
export function citationLine(view: CitedView, url: string, accessed: Date, software: CitedSoftware | null): string {
  const { model } = view;
  const weights = model.weights_revision
    ? `weights revision ${model.weights_revision}`
    : `weights ${WEIGHTS_NOT_RECORDED}`;
  const dataset = `${model.dataset.name} (${count(model.dataset.n_images, "image")})`;
  const by = software ? `qkatlas ${software.version}` : "qkatlas";
  return (
    `${citedName(view)} of ${model.model_id} (${weights}); ${by}, atlas revision ${model.revision}, ` +
    `dataset ${dataset}. ${url} (accessed ${accessDate(accessed)}).`
  );
}
