/**
 * The layers × heads grid's data: its colour scale (fixed or stretched), the rows of its CSV and the heatmap its PNG draws,
 * so that the download holds and looks like what the page shows.
 */
import type { Heatmap } from "./chartPng";
import type { DataTable } from "./csvExport";
import { cosineColor } from "./color";
import { fmt, INACTIVE_LABEL } from "../common/format";

export const HEAD_GRID_LEGEND = "weighted cosine (contextualizing ← → grouping)";

/** A head's weighted cosine; null for an inactive head (no active mode, so no cosine to colour by). */
export type HeadValue = number | null;

/**
 * How the colours span the values: `fixed` from −1 to +1, the same for every model, so that grids of
 * different models compare; `stretch` to this model's largest |value|, so that small differences show.
 */
export type HeadGridScaleMode = "fixed" | "stretch";

export const HEAD_GRID_SCALE_MODES: readonly HeadGridScaleMode[] = ["fixed", "stretch"];

/**
 * The fixed scale's bound. A head's weighted cosine is a σ-weighted average of cosines of unit vectors,
 * each in [−1, 1], so [−1, 1] holds every possible value of every model; nothing can saturate it. (Real
 * heads mostly lie well inside it: the stretched scale is there to read those.)
 */
const FIXED_SCALE = 1;

/** The grid's colour scale runs from −scale to +scale: 1, or stretched to the largest |value| (1 when none). */
export function headGridScale(values: HeadValue[][], mode: HeadGridScaleMode): number {
  if (mode === "fixed") return FIXED_SCALE;
  const largest = Math.max(0, ...values.flat().map((v) => (v !== null && Number.isFinite(v) ? Math.abs(v) : 0)));
  return largest > 0 ? largest : FIXED_SCALE;
}

/** The legend's text for the active scale. */
export function headGridScaleNote(mode: HeadGridScaleMode): string {
  return mode === "fixed" ? "fixed scale, the same for every model" : "stretched to this model's largest |value|";
}

export function hasInactiveHead(values: HeadValue[][]): boolean {
  return values.some((row) => row.includes(null));
}

/** A cell's fill on the grid's scale (diverging, symmetric about 0). */
export function headCellColor(value: number, scale: number): string {
  return cosineColor(value / scale);
}

/** The ramp of the colour scale, from −scale through 0 to +scale. */
export const HEAD_GRID_STOPS = [cosineColor(-1), cosineColor(0), cosineColor(1)];

/** One row per head, layer by layer: layer, head, weighted cosine (full precision; empty if inactive). */
export function headGridTable(values: HeadValue[][]): DataTable {
  return {
    columns: ["layer", "head", "weighted cosine"],
    rows: values.flatMap((row, layer) => row.map((value, head) => [layer, head, value])),
  };
}

/** The grid as the PNG draws it: the same cells, colours, labels and colour scale as on screen. */
export function headGridHeatmap(values: HeadValue[][], mode: HeadGridScaleMode): Heatmap {
  const scale = headGridScale(values, mode);
  const label = `${HEAD_GRID_LEGEND}, ${headGridScaleNote(mode)}`;
  const nHeads = Math.max(0, ...values.map((row) => row.length));
  return {
    values,
    rowLabels: values.map((_, layer) => `L${layer}`),
    columnLabels: Array.from({ length: nHeads }, (_, head) => `H${head}`),
    colour: (value) => headCellColor(value, scale),
    legend: {
      min: `−${fmt(scale, 2)}`,
      max: `+${fmt(scale, 2)}`,
      stops: HEAD_GRID_STOPS,
      label: hasInactiveHead(values) ? `${label}; hatched: ${INACTIVE_LABEL}` : label,
    },
  };
}
