/**
 * The colour bar of a mode's overlays: every image of a signed mode is drawn on one scale per map
 * (`ModeDetail.map_scale`), a value x at intensity clip(x / scale, 0, 1) (docs/method.md#rendering).
 */
import type { Channel } from "../../api/client";
import type { OverlayOptions } from "./overlay";
import { fmt } from "../common/format";

export interface ScaleTick {
  /** Where on the bar, 0 (left) to 1 (right). */
  at: number;
  text: string;
}

const TICK_FRACTIONS = [0, 0.25, 0.5, 0.75, 1];

/** Numbered ticks from 0 to the scale's top (the value drawn at full colour). */
export function scaleTicks(top: number): ScaleTick[] {
  return TICK_FRACTIONS.map((at) => ({ at, text: at === 0 ? "≤ 0" : fmt(top * at, 2) }));
}

/** The maps an overlay with `channel` shows, in the order their bars are drawn. */
export function shownMaps(channel: Channel): ("query" | "key")[] {
  return channel === "both" ? ["query", "key"] : [channel];
}

/**
 * The bar's CSS gradient: the map colour at its strength on the overlay (`opacity` × intensity) over the
 * photo, drawn here as the bar's mid-grey background dimmed like the photo (`blend`). Alpha compositing of
 * a linear gradient is the renderer's `out = opacity·t·colour + (1 − opacity·t)·blend·photo` exactly.
 */
export function scaleGradient(rgb: [number, number, number], options: Pick<OverlayOptions, "opacity">): string {
  const [r, g, b] = rgb;
  return `linear-gradient(to right, rgba(${r}, ${g}, ${b}, 0), rgba(${r}, ${g}, ${b}, ${options.opacity}))`;
}

/** The grey a mid-grey photo shows at brightness `blend` (the bar's background). */
export function dimmedGrey(blend: number): string {
  const level = Math.round(128 * blend);
  return `rgb(${level}, ${level}, ${level})`;
}
