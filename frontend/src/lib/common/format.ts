/** Number and name formatting shared by every page. */

export function modeName(layer: number, head?: number, mode?: number): string {
  let name = `L${layer}`;
  if (head !== undefined) name += ` H${head}`;
  if (mode !== undefined) name += ` M${mode}`;
  return name;
}

/** How an inactive head or mode is named wherever it shows (docs/method.md#inactive-modes). */
export const INACTIVE_LABEL = "inactive (σ = 0)";

/** One locale for every number shown, so a page never mixes "1,000" and "1000" or "1.000". */
const LOCALE = "en-US";

const INTEGER = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0, signDisplay: "negative" });

const FIXED = new Map<number, Intl.NumberFormat>();

function fixed(digits: number): Intl.NumberFormat {
  let format = FIXED.get(digits);
  if (!format) {
    // "negative": a value that rounds to zero shows as 0, never as "-0.000".
    format = new Intl.NumberFormat(LOCALE, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
      signDisplay: "negative",
    });
    FIXED.set(digits, format);
  }
  return format;
}

/** A count or other integer with thousands separators: 1,000. */
export function integer(value: number): string {
  return INTEGER.format(value);
}

/** The noun for `n` things: `one` for exactly 1, else `many` (by default `one` + "s"). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/** A count with its noun: "1 image", "2 images", "1,000 images". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${integer(n)} ${plural(n, one, many)}`;
}

export function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e4 || abs < 1e-3)) return value.toExponential(2);
  return fixed(digits).format(value);
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)} %`;
}

/** A remaining time, coarsely: "23 hours", "40 minutes", "30 seconds". */
export function duration(seconds: number): string {
  if (seconds >= 7200) return count(Math.floor(seconds / 3600), "hour");
  if (seconds >= 120) return count(Math.floor(seconds / 60), "minute");
  return count(Math.max(0, Math.floor(seconds)), "second");
}
