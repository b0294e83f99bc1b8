/**
 * Quantities against normalized depth ℓ/(L−1), one line per series, so that models of different
 * depth share one axis: the cosine curves (the paper's Fig. 3, with each model's random baseline
 * band ±1.96/√d) and the odd-one-out attention shares (Fig. 2, with the uniform-attention level
 * of each share dashed). The legend names every line and the grey band ("random directions, 95 %"),
 * with each model's half-width, since the band differs with the model's width.
 */
import {
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ReferenceArea,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { Cell, TableContext } from "../../lib/charts/csvExport";
import { seriesColor } from "../../lib/charts/color";
import { fmt } from "../../lib/common/format";
import { ChartFrame } from "./ChartFrame";

export interface DepthPoint {
  layer: number;
  depth: number;
  /** null: no value at this layer (e.g. no active head); the line has a gap there, never a 0. */
  value: number | null;
}

export interface DepthSeries {
  id: string;
  label: string;
  points: DepthPoint[];
  /** Half-width of the 95 % band of random cosines in this model's width (1.96/√d), shaded. */
  baseline?: number | undefined;
  /** The value of uniform attention, drawn as a dashed line in the series' colour. */
  chance?: number | undefined;
}

export interface DepthChartProps {
  title: string;
  series: DepthSeries[];
  yLabel: string;
  /** Heading of the series column of the data ("model", "share", ...). */
  seriesColumn: string;
  fileName: string[];
  context?: TableContext | undefined;
  /** Fixed y range (shares: [0, 1]); automatic otherwise. */
  yDomain?: [number, number] | undefined;
  height?: number;
}

function uniqueBaselines(series: DepthSeries[]): number[] {
  const values = series.flatMap((s) => (s.baseline === undefined ? [] : [s.baseline]));
  return [...new Set(values)].sort((a, b) => b - a);
}

/**
 * The band's legend entry: what it is, and its half-width (one value when all models share it, else
 * each half-width once, widest first, with the models that have it).
 */
export function bandLegend(series: DepthSeries[]): string | null {
  const withBand = series.filter((s) => s.baseline !== undefined);
  if (withBand.length === 0) return null;
  const widths = uniqueBaselines(withBand);
  const values =
    widths.length === 1
      ? `±${fmt(widths[0]!)}`
      : widths
          .map(
            (w) =>
              `±${fmt(w)} ${[...new Set(withBand.filter((s) => s.baseline === w).map((s) => s.label))].join(", ")}`,
          )
          .join("; ");
  return `grey band: random directions, 95 % (±1.96/√d): ${values}`;
}

/**
 * The legend: a line per series (when there are several) and the random band. Its items have
 * recharts' legend classes, so the PNG export (lib/charts/chartPng) draws them as it draws recharts' own.
 */
function DepthLegend({ series, band }: { series: DepthSeries[]; band: string | null }) {
  return (
    <ul className="recharts-default-legend depth-legend">
      {series.length > 1
        ? series.map((s, i) => (
            <li key={s.id} className="recharts-legend-item">
              <svg width="14" height="10" aria-hidden="true">
                <line x1="0" y1="5" x2="14" y2="5" stroke={seriesColor(i)} strokeWidth="2" />
              </svg>
              <span className="recharts-legend-item-text">{s.label}</span>
            </li>
          ))
        : null}
      {band ? (
        <li className="recharts-legend-item depth-legend-band">
          <svg width="14" height="10" aria-hidden="true">
            <path d="M0 0H14V10H0Z" className="depth-legend-band-swatch" />
          </svg>
          <span className="recharts-legend-item-text">{band}</span>
        </li>
      ) : null}
    </ul>
  );
}

function describe(series: DepthSeries[], yLabel: string, baselines: number[]): string {
  const n = series.length;
  let text = `${yLabel} against normalized depth, ${n} line${n === 1 ? "" : "s"}: ${series.map((s) => s.label).join(", ")}.`;
  if (baselines.length > 0)
    text += ` The shaded band is the random baseline ±${baselines.map((b) => fmt(b)).join(", ±")}.`;
  if (series.some((s) => s.chance !== undefined)) text += " Dashed lines: what uniform attention would give.";
  if (series.some((s) => s.points.some((p) => p.value === null)))
    text += " A gap is a layer without a value (no active head).";
  return text;
}

export function DepthChart({
  title,
  series,
  yLabel,
  seriesColumn,
  fileName,
  context,
  yDomain,
  height = 320,
}: DepthChartProps) {
  const baselines = uniqueBaselines(series);
  const band = bandLegend(series);
  const withBaseline = baselines.length > 0;
  const withChance = series.some((s) => s.chance !== undefined);
  const table = {
    columns: [
      seriesColumn,
      "layer",
      "normalized depth",
      yLabel,
      ...(withBaseline ? ["random baseline ±"] : []),
      ...(withChance ? ["uniform attention"] : []),
    ],
    rows: series.flatMap((s) =>
      s.points.map((p): Cell[] => [
        s.label,
        p.layer,
        p.depth,
        p.value,
        ...(withBaseline ? [s.baseline ?? null] : []),
        ...(withChance ? [s.chance ?? null] : []),
      ]),
    ),
  };
  return (
    <ChartFrame
      title={title}
      summary={describe(series, yLabel, baselines)}
      table={table}
      fileName={fileName}
      context={context}
      help={band ? "randomBand" : undefined}
    >
      <ResponsiveContainer width="100%" height={height}>
        <LineChart margin={{ top: 8, right: 16, bottom: 24, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" className="chart-grid" />
          {baselines.map((b) => (
            <ReferenceArea key={b} y1={-b} y2={b} className="chart-band" ifOverflow="extendDomain" />
          ))}
          {withBaseline ? <ReferenceLine y={0} className="chart-zero" /> : null}
          <XAxis
            type="number"
            dataKey="depth"
            domain={[0, 1]}
            ticks={[0, 0.25, 0.5, 0.75, 1]}
            label={{ value: "normalized depth ℓ/(L−1)", position: "insideBottom", offset: -14 }}
          />
          <YAxis
            type="number"
            domain={yDomain ?? ["auto", "auto"]}
            tickFormatter={(v: number) => fmt(v, 2)}
            label={{ value: yLabel, angle: -90, position: "insideLeft", offset: 12, style: { textAnchor: "middle" } }}
            width={64}
          />
          <Tooltip
            formatter={(v) => fmt(typeof v === "number" ? v : null)}
            labelFormatter={(d) => `depth ${fmt(Number(d), 2)}`}
          />
          {series.length > 1 || band ? (
            <Legend verticalAlign="top" content={() => <DepthLegend series={series} band={band} />} />
          ) : null}
          {series.map((s, i) => (
            <Line
              key={s.id}
              data={s.points}
              dataKey="value"
              name={s.label}
              stroke={seriesColor(i)}
              strokeWidth={2}
              dot={{ r: 3 }}
              isAnimationActive={false}
            />
          ))}
          {series.map((s, i) =>
            s.chance === undefined ? null : (
              <Line
                key={`${s.id}-chance`}
                data={[
                  { depth: 0, value: s.chance },
                  { depth: 1, value: s.chance },
                ]}
                dataKey="value"
                name={`${s.label} (uniform attention)`}
                stroke={seriesColor(i)}
                strokeWidth={1.5}
                strokeDasharray="6 4"
                dot={false}
                activeDot={false}
                legendType="none"
                isAnimationActive={false}
              />
            ),
          )}
        </LineChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}
