/**
 * The layers × heads grid's data: its colour scale, the rows of its CSV and the heatmap its PNG draws,
 * so that the download holds and looks like what the page shows.
 */
import type { Heatmap } from "./chartPng";
import type { DataTable } from "./csvExport";
import { cosineColor } from "./color";
import { fmt, INACTIVE_LABEL } from "./format";

export const HEAD_GRID_LEGEND = "weighted cosine (contextualizing ← → grouping)";

/** A head's weighted cosine; null for an inactive head (no active mode, so no cosine to colour by). */
export type HeadValue = number | null;

/** The largest |value| (1 when there is none): the grid's colour scale runs from −scale to +scale. */
export function headGridScale(values: HeadValue[][]): number {
  const largest = Math.max(0, ...values.flat().map((v) => (v !== null && Number.isFinite(v) ? Math.abs(v) : 0)));
  return largest > 0 ? largest : 1;
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
export function headGridHeatmap(values: HeadValue[][]): Heatmap {
  const scale = headGridScale(values);
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
      label: hasInactiveHead(values) ? `${HEAD_GRID_LEGEND}; hatched: ${INACTIVE_LABEL}` : HEAD_GRID_LEGEND,
    },
  };
}
