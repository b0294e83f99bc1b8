/** Overlay rendering options, as the overlay endpoint takes them in its query string. */
import type { Channel, Palette } from "../../api/client";
import { CHANNELS, PALETTES, parseEnum } from "../../api/enums";

export interface OverlayOptions {
  channel: Channel;
  palette: Palette;
  /** Brightness of the photo (in colour) under the maps, 0 (black: maps only) to 1. */
  blend: number;
  /** Opacity of the maps over the photo, 0 (the clean photo) to 1. */
  opacity: number;
}

/** The photo at full brightness under maps at 60 %, so the photo stays readable (docs/method.md#rendering). */
export const DEFAULT_OVERLAY: OverlayOptions = { channel: "both", palette: "red_cyan", blend: 1, opacity: 0.6 };

export const CHANNEL_OPTIONS: { value: Channel; label: string }[] = [
  { value: "both", label: "both" },
  { value: "query", label: "query" },
  { value: "key", label: "key" },
];

export const PALETTE_OPTIONS: { value: Palette; label: string }[] = [
  { value: "red_cyan", label: "red / cyan" },
  { value: "orange_blue", label: "orange / blue (colour-blind safe)" },
];

/** A fraction in [0, 1] from a URL; `fallback` when absent or out of range. */
function parseFraction(value: string | null, fallback: number): number {
  const fraction = value === null || value.trim() === "" ? NaN : Number(value);
  return Number.isFinite(fraction) && fraction >= 0 && fraction <= 1 ? fraction : fallback;
}

/** The overlay options of a page's query string; defaults for what is absent or malformed. */
export function parseOverlayOptions(search: URLSearchParams): OverlayOptions {
  return {
    channel: parseEnum(CHANNELS, search.get("channel"), DEFAULT_OVERLAY.channel),
    palette: parseEnum(PALETTES, search.get("palette"), DEFAULT_OVERLAY.palette),
    blend: parseFraction(search.get("blend"), DEFAULT_OVERLAY.blend),
    opacity: parseFraction(search.get("opacity"), DEFAULT_OVERLAY.opacity),
  };
}

/** Writes into a page's query string the options that differ from the defaults (so short links stay short). */
export function setOverlayParams(params: URLSearchParams, options: OverlayOptions): void {
  if (options.channel !== DEFAULT_OVERLAY.channel) params.set("channel", options.channel);
  if (options.palette !== DEFAULT_OVERLAY.palette) params.set("palette", options.palette);
  if (options.blend !== DEFAULT_OVERLAY.blend) params.set("blend", String(options.blend));
  if (options.opacity !== DEFAULT_OVERLAY.opacity) params.set("opacity", String(options.opacity));
}

/** Adds the options to an overlay URL given by the API (which may already carry a query string). */
export function overlaySrc(url: string, options: OverlayOptions): string {
  const [path = "", query = ""] = url.split("?", 2);
  const params = new URLSearchParams(query);
  params.set("channel", options.channel);
  params.set("palette", options.palette);
  params.set("blend", options.blend.toFixed(2));
  params.set("opacity", options.opacity.toFixed(2));
  return `${path}?${params.toString()}`;
}

export function paletteNames(palette: Palette): { query: string; key: string } {
  return palette === "orange_blue" ? { query: "orange", key: "blue" } : { query: "red", key: "cyan" };
}

/** The maps' colours as 0–255 RGB, as the renderer draws them (`qkatlas.render.PALETTE_COLOURS`). */
export function paletteRgb(palette: Palette): { query: [number, number, number]; key: [number, number, number] } {
  return palette === "orange_blue"
    ? { query: [255, 153, 0], key: [0, 102, 255] }
    : { query: [255, 0, 0], key: [0, 255, 255] };
}

/** The maps an overlay shows (query first), each with the name of its colour. */
export function shownMaps(options: Pick<OverlayOptions, "channel" | "palette">): {
  map: "query" | "key";
  colour: string;
}[] {
  const names = paletteNames(options.palette);
  const maps = options.channel === "both" ? (["query", "key"] as const) : ([options.channel] as const);
  return maps.map((map) => ({ map, colour: names[map] }));
}

/** The shown maps in words, with their colours: "query map (red) and key map (cyan)", "key map (cyan)". */
export function shownMapsText(options: Pick<OverlayOptions, "channel" | "palette">): string {
  return shownMaps(options)
    .map(({ map, colour }) => `${map} map (${colour})`)
    .join(" and ");
}
