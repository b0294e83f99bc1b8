/** The mode page's view state, kept in the query string so a permalink reopens the same view. */
import { type OverlayOptions, parseOverlayOptions, setOverlayParams } from "./overlay";
import { type ModeQuery, parseBasis, parseSign } from "../address/paths";

export interface ModeView extends ModeQuery, OverlayOptions {}

export function parseModeView(search: URLSearchParams): ModeView {
  return {
    sign: parseSign(search.get("sign")),
    basis: parseBasis(search.get("basis")),
    ...parseOverlayOptions(search),
  };
}

/** Sign and basis always; overlay options only where they differ from the defaults. */
export function modeViewSearch(view: ModeView): string {
  const params = new URLSearchParams({ sign: view.sign, basis: view.basis });
  setOverlayParams(params, view);
  return `?${params.toString()}`;
}
