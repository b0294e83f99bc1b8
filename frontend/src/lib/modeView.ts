/** The mode page's view state, kept in the query string so a permalink reopens the same view. */
import { CHANNELS, PALETTES, parseEnum } from "../api/enums";
import { DEFAULT_OVERLAY, type OverlayOptions } from "./overlay";
import { type ModeQuery, parseBasis, parseSign } from "./paths";

export interface ModeView extends ModeQuery, OverlayOptions {}

function parseBlend(value: string | null): number {
  const blend = value === null ? NaN : Number(value);
  return Number.isFinite(blend) && blend >= 0 && blend <= 1 ? blend : DEFAULT_OVERLAY.blend;
}

export function parseModeView(search: URLSearchParams): ModeView {
  return {
    sign: parseSign(search.get("sign")),
    basis: parseBasis(search.get("basis")),
    channel: parseEnum(CHANNELS, search.get("channel"), DEFAULT_OVERLAY.channel),
    palette: parseEnum(PALETTES, search.get("palette"), DEFAULT_OVERLAY.palette),
    blend: parseBlend(search.get("blend")),
  };
}

/** Sign and basis always; overlay options only where they differ from the defaults. */
export function modeViewSearch(view: ModeView): string {
  const params = new URLSearchParams({ sign: view.sign, basis: view.basis });
  if (view.channel !== DEFAULT_OVERLAY.channel) params.set("channel", view.channel);
  if (view.palette !== DEFAULT_OVERLAY.palette) params.set("palette", view.palette);
  if (view.blend !== DEFAULT_OVERLAY.blend) params.set("blend", String(view.blend));
  return `?${params.toString()}`;
}
