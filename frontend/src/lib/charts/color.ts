/**
 * Colour scales for cosines in [−1, 1]: a diverging blue → grey → orange ramp (readable for the
 * common colour-vision deficiencies), so "groups similar tokens" (≈ 1) and "contextualizes"
 * (≈ 0 or negative) separate at a glance.
 */

type Rgb = readonly [number, number, number];

const NEG: Rgb = [33, 102, 172];
const MID: Rgb = [230, 230, 230];
const POS: Rgb = [214, 96, 31];

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(a[i]! + (b[i]! - a[i]!) * t)) as unknown as Rgb;
}

export function cosineColor(value: number): string {
  const v = Number.isFinite(value) ? Math.max(-1, Math.min(1, value)) : 0;
  const [r, g, b] = v < 0 ? mix(MID, NEG, -v) : mix(MID, POS, v);
  return `rgb(${r}, ${g}, ${b})`;
}

/** Series colours for charts with one line per model (Okabe–Ito, colour-blind safe). */
export const SERIES_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C8C8C"] as const;

export function seriesColor(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length]!;
}

/** Sequential scale for a non-negative map in [0, 1] (attention rows): transparent → magenta. */
export function heatColor(t: number): string {
  const v = Math.max(0, Math.min(1, t));
  return `rgba(255, 0, 170, ${(0.7 * v).toFixed(3)})`;
}

/**
 * Diverging scale for a position in [−1, 1] around a neutral level (attention against uniform):
 * transparent at 0, magenta towards +1, darkened (black) towards −1, a hue no photo region is
 * mistaken for: the image shows through unchanged only where the level is neutral.
 */
export function divergingHeatColor(t: number): string {
  const v = Number.isFinite(t) ? Math.max(-1, Math.min(1, t)) : 0;
  const [r, g, b] = v >= 0 ? [255, 0, 170] : [0, 0, 0];
  return `rgba(${r}, ${g}, ${b}, ${(0.7 * Math.abs(v)).toFixed(3)})`;
}
