/**
 * The layers × heads grid coloured by each head's σ-weighted cosine, on a diverging scale symmetric
 * about 0: fixed from −1 to +1 (comparable across models) or stretched to the model's largest |value|
 * (small differences visible); the legend shows the active one. An inactive
 * head (no cosine: σ = 0 throughout) is hatched, never a colour of the scale. Each cell is a link to its
 * head; one cell is in the tab order and the arrow keys move between cells (roving focus). The value
 * of the hovered or focused cell shows in the readout. Like every chart, it has the shared
 * "Download PNG / CSV" control: the CSV has one row per head, the PNG draws the same cells and scale.
 */
import { type KeyboardEvent, useRef, useState } from "react";
import { Link } from "react-router";
import { heatmapPng } from "../../lib/charts/chartPng";
import type { TableContext } from "../../lib/charts/csvExport";
import { fmt, INACTIVE_LABEL, modeName } from "../../lib/common/format";
import {
  HEAD_GRID_LEGEND,
  HEAD_GRID_STOPS,
  hasInactiveHead,
  headCellColor,
  headGridHeatmap,
  headGridScale,
  type HeadGridScaleMode,
  headGridScaleNote,
  headGridTable,
  type HeadValue,
} from "../../lib/charts/headGrid";
import { usePageShortcuts } from "../../lib/keys/shortcuts";
import { ChartDownload } from "../charts/ChartDownload";

export interface HeadGridProps {
  /** [layer][head] weighted cosines; null for an inactive head. */
  values: HeadValue[][];
  hrefFor: (layer: number, head: number) => string;
  /** The figure's caption, also the PNG's title. */
  title?: string;
  /** What the grid is, for the download file names, e.g. `[model slug, "head-grid"]`. */
  fileName: string[];
  /** Columns with one value for the whole grid (the model), first in the CSV. */
  context?: TableContext | undefined;
  scaleMode: HeadGridScaleMode;
}

interface Cell {
  layer: number;
  head: number;
}

const MOVES: Record<string, [number, number]> = {
  ArrowUp: [-1, 0],
  ArrowDown: [1, 0],
  ArrowLeft: [0, -1],
  ArrowRight: [0, 1],
};

const GRID_SHORTCUTS = [
  { keys: ["↑", "↓", "←", "→"], action: "in the head grid: move between heads" },
  { keys: ["Home", "End"], action: "in the head grid: first or last head of the layer" },
  { keys: ["Enter"], action: "in the head grid: open the head" },
];

export function HeadGrid({
  values,
  hrefFor,
  title = "σ-weighted cosine of every head (rows: layers, columns: heads)",
  fileName,
  context,
  scaleMode,
}: HeadGridProps) {
  const nLayers = values.length;
  const nHeads = values[0]?.length ?? 0;
  const [active, setActive] = useState<Cell>({ layer: 0, head: 0 });
  const [shown, setShown] = useState<Cell | null>(null);
  const tableRef = useRef<HTMLTableElement>(null);
  const figureRef = useRef<HTMLElement>(null);
  const scale = headGridScale(values, scaleMode);
  usePageShortcuts(GRID_SHORTCUTS);

  const focusCell = (cell: Cell) => {
    setActive(cell);
    setShown(cell);
    tableRef.current?.querySelector<HTMLElement>(`[data-cell="${cell.layer}-${cell.head}"]`)?.focus();
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const move = MOVES[event.key];
    let next: Cell | null = null;
    if (move) {
      next = {
        layer: Math.min(nLayers - 1, Math.max(0, active.layer + move[0])),
        head: Math.min(nHeads - 1, Math.max(0, active.head + move[1])),
      };
    } else if (event.key === "Home") next = { layer: active.layer, head: 0 };
    else if (event.key === "End") next = { layer: active.layer, head: nHeads - 1 };
    if (next) {
      event.preventDefault();
      focusCell(next);
    }
  };

  const readout = shown ?? active;
  const readValue = values[readout.layer]?.[readout.head];
  const describe = (value: HeadValue | undefined) =>
    value === null ? INACTIVE_LABEL : `weighted cosine ${fmt(value)}`;
  return (
    <figure className="chart head-grid" ref={figureRef}>
      <div className="chart-head">
        <figcaption>{title}</figcaption>
        <ChartDownload
          title={title}
          fileName={fileName}
          table={headGridTable(values)}
          context={context}
          chart={figureRef}
          drawPng={(figure, pngTitle, subtitle) =>
            heatmapPng(figure, headGridHeatmap(values, scaleMode), pngTitle, subtitle)
          }
        />
      </div>
      <p className="head-grid-readout" aria-live="polite">
        <strong>{modeName(readout.layer, readout.head)}</strong> {describe(readValue)}
      </p>
      <div className="table-scroll">
        <table ref={tableRef} onKeyDown={onKeyDown} data-own-arrows="">
          <caption className="visually-hidden">
            Weighted cosine of every head; rows are layers, columns are heads. Use the arrow keys to move.
          </caption>
          <thead>
            <tr>
              <td />
              {Array.from({ length: nHeads }, (_, h) => (
                <th key={h} scope="col">
                  H{h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {values.map((row, layer) => (
              <tr key={layer}>
                <th scope="row">L{layer}</th>
                {row.map((value, head) => {
                  const isActive = active.layer === layer && active.head === head;
                  return (
                    <td key={head}>
                      <Link
                        to={hrefFor(layer, head)}
                        data-cell={`${layer}-${head}`}
                        tabIndex={isActive ? 0 : -1}
                        className={value === null ? "head-cell head-cell-inactive" : "head-cell"}
                        style={value === null ? undefined : { background: headCellColor(value, scale) }}
                        aria-label={`${modeName(layer, head)}, ${describe(value)}`}
                        title={`${modeName(layer, head)}: ${value === null ? INACTIVE_LABEL : fmt(value)}`}
                        onFocus={() => {
                          setActive({ layer, head });
                          setShown({ layer, head });
                        }}
                        onMouseEnter={() => setShown({ layer, head })}
                      />
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <CosineLegend scale={scale} mode={scaleMode} inactive={hasInactiveHead(values)} />
    </figure>
  );
}

/** The colour bar with its end values, what the colour means and which scale is active. */
function CosineLegend({ scale, mode, inactive }: { scale: number; mode: HeadGridScaleMode; inactive: boolean }) {
  return (
    <div className="cos-legend" role="group" aria-label="Colour legend">
      <span className="cos-legend-min">−{fmt(scale, 2)}</span>
      <span
        className="cos-legend-ramp"
        aria-hidden="true"
        style={{ background: `linear-gradient(to right, ${HEAD_GRID_STOPS.join(", ")})` }}
      />
      <span className="cos-legend-max">+{fmt(scale, 2)}</span>
      <span className="cos-legend-label">
        {HEAD_GRID_LEGEND}, {headGridScaleNote(mode)}
      </span>
      {inactive ? (
        <>
          <span className="head-cell head-cell-inactive cos-legend-swatch" aria-hidden="true" />
          <span className="cos-legend-label">{INACTIVE_LABEL}</span>
        </>
      ) : null}
    </div>
  );
}
