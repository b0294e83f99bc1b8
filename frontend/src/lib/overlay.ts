/** Overlay rendering options, as the overlay endpoint takes them in its query string. */
import type { Channel, Palette } from "../api/client";

export interface OverlayOptions {
  channel: Channel;
  palette: Palette;
  /** Brightness of the grey photo under the maps, 0 (maps only) to 1. */
  blend: number;
}

export const DEFAULT_OVERLAY: OverlayOptions = { channel: "both", palette: "red_cyan", blend: 0.5 };

export const CHANNEL_OPTIONS: { value: Channel; label: string }[] = [
  { value: "both", label: "both" },
  { value: "query", label: "query" },
  { value: "key", label: "key" },
];

export const PALETTE_OPTIONS: { value: Palette; label: string }[] = [
  { value: "red_cyan", label: "red / cyan" },
  { value: "orange_blue", label: "orange / blue (colour-blind safe)" },
];

/** Adds the options to an overlay URL given by the API (which may already carry a query string). */
export function overlaySrc(url: string, options: OverlayOptions): string {
  const [path = "", query = ""] = url.split("?", 2);
  const params = new URLSearchParams(query);
  params.set("channel", options.channel);
  params.set("palette", options.palette);
  params.set("blend", options.blend.toFixed(2));
  return `${path}?${params.toString()}`;
}

export function paletteNames(palette: Palette): { query: string; key: string } {
  return palette === "orange_blue" ? { query: "orange", key: "blue" } : { query: "red", key: "cyan" };
}
