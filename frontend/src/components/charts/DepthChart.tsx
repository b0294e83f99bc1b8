/**
 * Quantities against normalized depth ℓ/(L−1), one line per series, so that models of different
 * depth share one axis: the cosine curves (the paper's Fig. 3, with each model's random baseline
 * band ±1.96/√d) and the odd-one-out attention shares (Fig. 2, with the uniform-attention level
 * of each share dashed). The legend names every line and every band ("random directions, 95 %") with
 * its half-width, since the band differs with the model's width; each model's band has its line's
 * colour.
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
import { count, fmt } from "../../lib/common/format";
import { ChartFrame } from "./ChartFrame";
import { ChartLegend, type LegendItem } from "./ChartLegend";

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

/** One random-baseline band: its half-width, the series it belongs to, and its colour. */
export interface RandomBand {
  halfWidth: number;
  /** The series with this half-width, in their order (their models' width d gives it). */
  labels: string[];
  /** The colour of the one series that has it; null (the theme's neutral band) when several share it. */
  colour: string | null;
}

/**
 * The random bands, widest first: one per half-width, coloured like its series' line when one series
 * has it, so each model's band reads as its own; a band several series share (one model's two curves,
 * or models of one width) is neutral, and the legend names them.
 */
export function randomBands(series: DepthSeries[]): RandomBand[] {
  const bands = new Map<number, { labels: string[]; indices: number[] }>();
  series.forEach((s, index) => {
    if (s.baseline === undefined) return;
    const band = bands.get(s.baseline) ?? { labels: [], indices: [] };
    if (!band.labels.includes(s.label)) band.labels.push(s.label);
    band.indices.push(index);
    bands.set(s.baseline, band);
  });
  return [...bands.entries()]
    .sort(([a], [b]) => b - a)
    .map(([halfWidth, { labels, indices }]) => ({
      halfWidth,
      labels,
      colour: indices.length === 1 ? seriesColor(indices[0]!) : null,
    }));
}

const BAND_NAME = "random directions, 95 % (±1.96/√d)";

/** A band's legend entry: what it is and its half-width, and whose it is when the chart has several. */
export function bandLegend(band: RandomBand, bands: number): string {
  return bands === 1
    ? `${BAND_NAME}: ±${fmt(band.halfWidth)}`
    : `${BAND_NAME}, ${band.labels.join(", ")}: ±${fmt(band.halfWidth)}`;
}

/** The fill opacity of a coloured band (its dashed edges stay opaque). */
const BAND_OPACITY = 0.12;

/** A band drawn as a translucent area with dashed edges at ±half-width, in its colour. */
function bandShape(band: RandomBand) {
  return function BandShape({ x, y, width, height }: { x?: number; y?: number; width?: number; height?: number }) {
    if (x === undefined || y === undefined || width === undefined || height === undefined) return <g />;
    const colour = band.colour ?? undefined;
    const edge = {
      strokeDasharray: "5 3",
      strokeWidth: 1.5,
      stroke: colour,
      className: colour ? undefined : "band-edge",
    };
    return (
      <g className="random-band">
        <rect
          x={x}
          y={y}
          width={width}
          height={height}
          fill={colour}
          fillOpacity={colour ? BAND_OPACITY : undefined}
          className={colour ? undefined : "band-fill"}
        />
        <line x1={x} x2={x + width} y1={y} y2={y} {...edge} />
        <line x1={x} x2={x + width} y1={y + height} y2={y + height} {...edge} />
      </g>
    );
  };
}

/** The legend: a line per series (when there are several) and each random band. */
export function DepthLegend({ series, bands }: { series: DepthSeries[]; bands: RandomBand[] }) {
  const items: LegendItem[] = [
    ...(series.length > 1
      ? series.map((s, i): LegendItem => ({ label: s.label, shape: "line", colour: seriesColor(i) }))
      : []),
    ...bands.map((band): LegendItem => ({
      label: bandLegend(band, bands.length),
      shape: "box",
      colour: band.colour ?? undefined,
      swatchClass: band.colour ? undefined : "band-swatch",
      fillOpacity: band.colour ? 2 * BAND_OPACITY : undefined,
      dashed: true,
      className: "depth-legend-band",
    })),
  ];
  return <ChartLegend items={items} />;
}

function describe(series: DepthSeries[], yLabel: string, bands: RandomBand[]): string {
  let text = `${yLabel} against normalized depth, ${count(series.length, "line")}: ${series.map((s) => s.label).join(", ")}.`;
  if (bands.length > 0)
    text += ` Shaded, between dashed edges: the random baseline ${bands.map((b) => `±${fmt(b.halfWidth)} (${b.labels.join(", ")})`).join(", ")}.`;
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
  const bands = randomBands(series);
  const withBaseline = bands.length > 0;
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
      summary={describe(series, yLabel, bands)}
      table={table}
      fileName={fileName}
      context={context}
      help={withBaseline ? "randomBand" : undefined}
    >
      <ResponsiveContainer width="100%" height={height}>
        <LineChart margin={{ top: 8, right: 16, bottom: 24, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" className="chart-grid" />
          {bands.map((b) => (
            <ReferenceArea
              key={b.halfWidth}
              y1={-b.halfWidth}
              y2={b.halfWidth}
              ifOverflow="extendDomain"
              shape={bandShape(b)}
            />
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
          {series.length > 1 || withBaseline ? (
            <Legend verticalAlign="top" content={() => <DepthLegend series={series} bands={bands} />} />
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
