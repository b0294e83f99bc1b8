/** Lines of the spectra chart: the mean spectrum of every layer, or every head of one layer. */
import type { SpectrumLine } from "../../components/charts/SpectrumChart";

/** Colour by position in [0, 1] (early = blue, late = orange): a depth cue that survives greyscale. */
export function depthColor(t: number): string {
  const hue = 215 - 190 * Math.max(0, Math.min(1, t));
  const light = 42 + 10 * t;
  return `hsl(${hue.toFixed(0)}, 70%, ${light.toFixed(0)}%)`;
}

function meanOverHeads(heads: number[][]): number[] {
  const n = heads[0]?.length ?? 0;
  return Array.from({ length: n }, (_, m) => heads.reduce((sum, h) => sum + (h[m] ?? 0), 0) / heads.length);
}

export function spectrumLines(sigma: number[][][], layer: number | "all"): SpectrumLine[] {
  const position = (i: number, n: number) => (n > 1 ? i / (n - 1) : 0);
  if (layer === "all") {
    return sigma.map((heads, l) => ({
      label: `L${l}`,
      values: meanOverHeads(heads),
      color: depthColor(position(l, sigma.length)),
    }));
  }
  const heads = sigma[layer] ?? [];
  return heads.map((values, h) => ({ label: `H${h}`, values, color: depthColor(position(h, heads.length)) }));
}
