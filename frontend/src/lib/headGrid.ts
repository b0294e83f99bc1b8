/**
 * The layers × heads grid's data: its colour scale, the rows of its CSV and the heatmap its PNG draws,
 * so that the download holds and looks like what the page shows.
 */
import type { Heatmap } from "./chartPng";
import type { DataTable } from "./csvExport";
import { cosineColor } from "./color";
import { fmt } from "./format";

export const HEAD_GRID_LEGEND = "weighted cosine (contextualizing ← → grouping)";

/** The largest |value| (1 when there is none): the grid's colour scale runs from −scale to +scale. */
export function headGridScale(values: number[][]): number {
  const largest = Math.max(0, ...values.flat().map((v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
  return largest > 0 ? largest : 1;
}

/** A cell's fill on the grid's scale (diverging, symmetric about 0). */
export function headCellColor(value: number, scale: number): string {
  return cosineColor(value / scale);
}

/** The ramp of the colour scale, from −scale through 0 to +scale. */
export const HEAD_GRID_STOPS = [cosineColor(-1), cosineColor(0), cosineColor(1)];

/** One row per head, layer by layer: layer, head, weighted cosine (full precision). */
export function headGridTable(values: number[][]): DataTable {
  return {
    columns: ["layer", "head", "weighted cosine"],
    rows: values.flatMap((row, layer) => row.map((value, head) => [layer, head, value])),
  };
}

/** The grid as the PNG draws it: the same cells, colours, labels and colour scale as on screen. */
export function headGridHeatmap(values: number[][]): Heatmap {
  const scale = headGridScale(values);
  const nHeads = Math.max(0, ...values.map((row) => row.length));
  return {
    values,
    rowLabels: values.map((_, layer) => `L${layer}`),
    columnLabels: Array.from({ length: nHeads }, (_, head) => `H${head}`),
    colour: (value) => headCellColor(value, scale),
    legend: { min: `−${fmt(scale, 2)}`, max: `+${fmt(scale, 2)}`, stops: HEAD_GRID_STOPS, label: HEAD_GRID_LEGEND },
  };
}
