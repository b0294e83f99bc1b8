/** Number and name formatting shared by every page. */

export function modeName(layer: number, head?: number, mode?: number): string {
  let name = `L${layer}`;
  if (head !== undefined) name += ` H${head}`;
  if (mode !== undefined) name += ` M${mode}`;
  return name;
}

/** How an inactive head or mode is named wherever it shows (docs/method.md#inactive-modes). */
export const INACTIVE_LABEL = "inactive (σ = 0)";

export function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e4 || abs < 1e-3)) return value.toExponential(2);
  return value.toFixed(digits);
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)} %`;
}

/** A remaining time, coarsely: "23 hours", "40 minutes", "30 seconds". */
export function duration(seconds: number): string {
  const unit = (n: number, name: string) => `${n} ${name}${n === 1 ? "" : "s"}`;
  if (seconds >= 7200) return unit(Math.floor(seconds / 3600), "hour");
  if (seconds >= 120) return unit(Math.floor(seconds / 60), "minute");
  return unit(Math.max(0, Math.floor(seconds)), "second");
}
