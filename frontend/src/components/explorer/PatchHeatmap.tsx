/**
 * An image with a T × T patch grid drawn over it: optional heat values with a legend (a colour bar with
 * its scale's ticks, saying what they are), an optional selected patch, and —
 * when `onPick` is given — patch picking by click or by keyboard (arrow keys move the cursor, Enter or
 * Space picks).
 */
import { type KeyboardEvent, useState } from "react";
import { patchCoords, patchIndex, patchLabel } from "../../lib/upload/attention";
import { divergingHeatColor, heatColor } from "../../lib/charts/color";
import { attentionScaleTicks, probabilityLabel, uniformLogRatio } from "../../lib/upload/attentionScale";
import { fmt, integer } from "../../lib/common/format";

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
 * `range`: values defined up to a constant (logits) stretched from their minimum to their maximum;
 * `attention`: probabilities over `keys` keys on the fixed log scale around the uniform level 1/N
 * (lib/upload/attentionScale), the same for every row of the model;
 * `unit`: fractions on the fixed linear scale from 0 to 1, whatever the values' own range.
 */
export type HeatScale = { kind: "range" } | { kind: "attention"; keys: number } | { kind: "unit" };

interface LegendTick {
  /** Where on the colour bar, from 0 (left end) to 1 (right end). */
  at: number;
  text: string;
  /** The neutral level (uniform attention), marked on the bar. */
  marked?: boolean;
}

/** How values are painted and how the colour bar reads. */
interface HeatPainter {
  colour: (v: number) => string;
  gradient: string;
  ticks: LegendTick[];
  /** The scale in words, for the colour bar's accessible name. */
  description: string;
}

function gradientOf(colour: (t: number) => string, stops: number[]): string {
  return `linear-gradient(to right, ${stops.map(colour).join(", ")})`;
}

function heatPainter(values: number[][], scale: HeatScale): HeatPainter {
  if (scale.kind === "attention") {
    const { keys } = scale;
    const ticks = attentionScaleTicks(keys);
    const uniform = probabilityLabel(1 / keys);
    return {
      colour: (v) => divergingHeatColor(uniformLogRatio(v, keys)),
      gradient: gradientOf(divergingHeatColor, [-1, -0.5, 0, 0.5, 1]),
      ticks: ticks.map((t) => ({
        at: t.at,
        text: t.uniform ? `1/N = ${uniform}` : probabilityLabel(t.probability),
        marked: t.uniform,
      })),
      description: `log scale from ${probabilityLabel(1 / (keys * keys))} (1/N²) to 1, uniform level 1/N = ${uniform} marked, N = ${integer(keys)} keys`,
    };
  }
  if (scale.kind === "unit") {
    const toUnit = (v: number) => Math.max(0, Math.min(1, v));
    return {
      colour: (v) => heatColor(toUnit(v)),
      gradient: gradientOf(heatColor, [0, 0.25, 0.5, 0.75, 1]),
      ticks: [0, 0.5, 1].map((at) => ({ at, text: fmt(at, 1) })),
      description: "fixed linear scale from 0 to 1",
    };
  }
  const flat = values.flat().filter(Number.isFinite);
  const lo = flat.length > 0 ? Math.min(...flat) : 0;
  const hi = flat.length > 0 ? Math.max(...flat) : 0;
  const toUnit = hi > lo ? (v: number) => (v - lo) / (hi - lo) : () => 0;
  return {
    colour: (v) => heatColor(toUnit(v)),
    gradient: gradientOf(heatColor, [0, 0.25, 0.5, 0.75, 1]),
    ticks: [
      { at: 0, text: fmt(lo) },
      { at: 1, text: fmt(hi) },
    ],
    description: `from ${fmt(lo)} to ${fmt(hi)}`,
  };
}

export function PatchHeatmap({
  src,
  alt,
  grid,
  values,
  legend,
  scale = { kind: "range" },
  selected,
  onPick,
  size = 320,
}: PatchHeatmapProps) {
  const [cursor, setCursor] = useState(selected ?? patchIndex(Math.floor(grid / 2), Math.floor(grid / 2), grid));
  const painter = values ? heatPainter(values, scale) : null;
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
                "aria-label": `Patch picker, ${grid} by ${grid} patches. Arrow keys move, Enter picks. Cursor on ${patchLabel(cursor, grid)}.`,
                onKeyDown,
                "data-own-arrows": "",
              }
            : { "aria-hidden": true })}
        >
          {painter && values
            ? values.map((row, r) =>
                row.map((v, c) => (
                  <rect key={`${r}-${c}`} x={c} y={r} width={1} height={1} fill={painter.colour(v)} data-value={v} />
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
      {painter && legend ? <HeatLegend painter={painter} label={legend} /> : null}
    </div>
  );
}

/** The colour bar of a heat map: its ticks (the neutral level marked), and what the values are. */
function HeatLegend({ painter, label }: { painter: HeatPainter; label: string }) {
  return (
    <div className="heat-legend" role="group" aria-label={`Colour scale: ${label}, ${painter.description}`}>
      <span className="heat-legend-bar" style={{ backgroundImage: painter.gradient }} aria-hidden="true">
        {painter.ticks
          .filter((t) => t.marked)
          .map((t) => (
            <span key={t.text} className="heat-legend-mark" style={{ left: `${100 * t.at}%` }} />
          ))}
      </span>
      <span className="heat-legend-ticks">
        {painter.ticks.map((t) => (
          <span
            key={t.text}
            className={t.marked ? "heat-legend-tick heat-legend-tick-marked" : "heat-legend-tick"}
            style={{ left: `${100 * t.at}%` }}
          >
            {t.text}
          </span>
        ))}
      </span>
      <span className="heat-legend-label">{label}</span>
    </div>
  );
}
