/**
 * An image with a T × T patch grid drawn over it: optional heat values, an optional selected patch, and — when `onPick` is given — patch picking by click or by
 * keyboard (arrow keys move the cursor, Enter or Space picks).
 */
import { type KeyboardEvent, useState } from "react";
import { patchCoords, patchIndex } from "../lib/attention";
import { heatColor } from "../lib/color";

export interface PatchHeatmapProps {
  src: string;
  alt: string;
  grid: number;
  values?: number[][] | undefined;
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

function normalize(values: number[][], scale: HeatScale): (v: number) => number {
  const flat = values.flat().filter(Number.isFinite);
  if (scale === "fraction") {
    const largest = Math.max(0, ...flat);
    return largest > 0 ? (v) => Math.max(0, v) / largest : () => 0;
  }
  const lo = Math.min(...flat);
  const hi = Math.max(...flat);
  return hi > lo ? (v) => (v - lo) / (hi - lo) : () => 0;
}

export function PatchHeatmap({
  src,
  alt,
  grid,
  values,
  scale = "fraction",
  selected,
  onPick,
  size = 320,
}: PatchHeatmapProps) {
  const [cursor, setCursor] = useState(selected ?? patchIndex(Math.floor(grid / 2), Math.floor(grid / 2), grid));
  const toUnit = values ? normalize(values, scale) : null;
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
  return (
    <div className="patch-heatmap" style={{ maxWidth: size }}>
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
  );
}
