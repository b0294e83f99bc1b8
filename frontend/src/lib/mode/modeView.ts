/** The mode page's view state, kept in the query string so a permalink reopens the same view. */
import { type OverlayOptions, parseOverlayOptions, setOverlayParams } from "./overlay";
import { type ModeQuery, parseBasis, parseSign, UPLOAD_PARAM } from "../address/paths";

export interface ModeView extends ModeQuery, OverlayOptions {
  /** The attached upload's id as the address gives it (checked where it is shown), or null. */
  upload: string | null;
}

export function parseModeView(search: URLSearchParams): ModeView {
  return {
    sign: parseSign(search.get("sign")),
    basis: parseBasis(search.get("basis")),
    upload: search.get(UPLOAD_PARAM),
    ...parseOverlayOptions(search),
  };
}

/** Sign and basis always; the attached upload when there is one; overlay options only where they differ from the defaults. */
export function modeViewSearch(view: ModeView): string {
  const params = new URLSearchParams({ sign: view.sign, basis: view.basis });
  if (view.upload !== null) params.set(UPLOAD_PARAM, view.upload);
  setOverlayParams(params, view);
  return `?${params.toString()}`;
}
