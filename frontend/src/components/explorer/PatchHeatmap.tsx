/**
 * An image with a T × T patch grid drawn over it: optional heat values with a legend (a colour bar from
 * the scale's lowest to its highest value, saying what they are), an optional selected patch, and —
 * when `onPick` is given — patch picking by click or by keyboard (arrow keys move the cursor, Enter or
 * Space picks).
 */
import { type KeyboardEvent, useState } from "react";
import { patchCoords, patchIndex } from "../../lib/upload/attention";
import { heatColor } from "../../lib/charts/color";
import { fmt } from "../../lib/common/format";

export interface PatchHeatmapProps {
  src: string;
  alt: string;
  grid: number;
  values?: number[][] | undefined;
  /** What the heat values are, for the legend under the image (shown with `values`). */
  legend?: string | undefined;
  scale?: HeatScale;
  selected?: number | null | undefined;
  onPick?: ((patch: number) => void) | undefined;
  size?: number;
}

/**
 * `fraction`: non-negative values (attention) as a fraction of the largest, so a flat row looks flat;
 * `range`: values defined up to a constant (logits) stretched from their minimum to their maximum.
 */
export type HeatScale = "fraction" | "range";

/** The values drawn transparent (`lo`) and in full colour (`hi`), and the map from a value to [0, 1]. */
interface HeatRange {
  lo: number;
  hi: number;
  toUnit: (v: number) => number;
}

function heatRange(values: number[][], scale: HeatScale): HeatRange {
  const flat = values.flat().filter(Number.isFinite);
  if (scale === "fraction") {
    const largest = Math.max(0, ...flat);
    return { lo: 0, hi: largest, toUnit: largest > 0 ? (v) => Math.max(0, v) / largest : () => 0 };
  }
  const lo = flat.length > 0 ? Math.min(...flat) : 0;
  const hi = flat.length > 0 ? Math.max(...flat) : 0;
  return { lo, hi, toUnit: hi > lo ? (v) => (v - lo) / (hi - lo) : () => 0 };
}

export function PatchHeatmap({
  src,
  alt,
  grid,
  values,
  legend,
  scale = "fraction",
  selected,
  onPick,
  size = 320,
}: PatchHeatmapProps) {
  const [cursor, setCursor] = useState(selected ?? patchIndex(Math.floor(grid / 2), Math.floor(grid / 2), grid));
  const range = values ? heatRange(values, scale) : null;
  const cur = patchCoords(cursor, grid);

  const onKeyDown = (event: KeyboardEvent) => {
    const moves: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
    };
    const move = moves[event.key];
    if (move) {
      event.preventDefault();
      const row = Math.min(grid - 1, Math.max(0, cur.row + move[0]));
      const col = Math.min(grid - 1, Math.max(0, cur.col + move[1]));
      setCursor(patchIndex(row, col, grid));
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onPick?.(cursor);
    }
  };

  const sel = selected === null || selected === undefined ? null : patchCoords(selected, grid);
  const toUnit = range?.toUnit;
  return (
    <div className="patch-heatmap-with-legend" style={{ maxWidth: size }}>
      <div className="patch-heatmap">
        <img src={src} alt={alt} width={size} height={size} />
        <svg
          viewBox={`0 0 ${grid} ${grid}`}
          preserveAspectRatio="none"
          className={onPick ? "pickable" : undefined}
          {...(onPick
            ? {
                role: "application",
                tabIndex: 0,
                "aria-label": `Patch picker, ${grid} by ${grid} patches. Arrow keys move, Enter picks. Cursor at row ${cur.row + 1}, column ${cur.col + 1}.`,
                onKeyDown,
                "data-own-arrows": "",
              }
            : { "aria-hidden": true })}
        >
          {toUnit && values
            ? values.map((row, r) =>
                row.map((v, c) => (
                  <rect key={`${r}-${c}`} x={c} y={r} width={1} height={1} fill={heatColor(toUnit(v))} />
                )),
              )
            : null}
          {onPick
            ? Array.from({ length: grid * grid }, (_, i) => {
                const { row, col } = patchCoords(i, grid);
                return (
                  <rect
                    key={`hit-${i}`}
                    x={col}
                    y={row}
                    width={1}
                    height={1}
                    className="patch-hit"
                    onClick={() => {
                      setCursor(i);
                      onPick(i);
                    }}
                  />
                );
              })
            : null}
          {onPick ? <rect x={cur.col} y={cur.row} width={1} height={1} className="patch-cursor" /> : null}
          {sel ? <rect x={sel.col} y={sel.row} width={1} height={1} className="patch-selected" /> : null}
        </svg>
      </div>
      {range && legend ? <HeatLegend lo={range.lo} hi={range.hi} label={legend} /> : null}
    </div>
  );
}

/** The colour bar of a heat map: its lowest and highest value, and what the values are. */
function HeatLegend({ lo, hi, label }: { lo: number; hi: number; label: string }) {
  const gradient = `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(heatColor).join(", ")})`;
  return (
    <div className="heat-legend" role="group" aria-label={`Colour scale: ${label}, from ${fmt(lo)} to ${fmt(hi)}`}>
      <span className="heat-legend-bar" style={{ backgroundImage: gradient }} aria-hidden="true" />
      <span className="heat-legend-ends">
        <span>{fmt(lo)}</span>
        <span>{fmt(hi)}</span>
      </span>
      <span className="heat-legend-label">{label}</span>
    </div>
  );
}
