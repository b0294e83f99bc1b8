/**
 * Weighted cosine vs normalized depth ℓ/(L−1), one line per model, with each model's random
 * baseline band ±1.96/√d (the paper's Fig. 3).
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
import { seriesColor } from "../../lib/color";
import { fmt } from "../../lib/format";
import { ChartFrame } from "./ChartFrame";

export interface DepthPoint {
  depth: number;
  value: number;
}

export interface DepthSeries {
  id: string;
  label: string;
  points: DepthPoint[];
  /** Half-width of the 95 % band of random cosines in this model's width: 1.96/√d. */
  baseline: number;
}

export interface CosineDepthChartProps {
  title: string;
  series: DepthSeries[];
  yLabel: string;
  height?: number;
}

function uniqueBaselines(series: DepthSeries[]): number[] {
  return [...new Set(series.map((s) => s.baseline))].sort((a, b) => b - a);
}

export function CosineDepthChart({ title, series, yLabel, height = 320 }: CosineDepthChartProps) {
  const baselines = uniqueBaselines(series);
  const summary = `${yLabel} against normalized depth for ${series.length} model${series.length === 1 ? "" : "s"}; the shaded band is the random baseline ±${baselines.map((b) => fmt(b)).join(", ±")}.`;
  const table = {
    columns: ["model", "normalized depth", yLabel],
    rows: series.flatMap((s) => s.points.map((p) => [s.label, fmt(p.depth, 2), fmt(p.value)])),
  };
  return (
    <ChartFrame title={title} summary={summary} table={table}>
      <ResponsiveContainer width="100%" height={height}>
        <LineChart margin={{ top: 8, right: 16, bottom: 24, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" className="chart-grid" />
          {baselines.map((b) => (
            <ReferenceArea key={b} y1={-b} y2={b} className="chart-band" ifOverflow="extendDomain" />
          ))}
          <ReferenceLine y={0} className="chart-zero" />
          <XAxis
            type="number"
            dataKey="depth"
            domain={[0, 1]}
            ticks={[0, 0.25, 0.5, 0.75, 1]}
            label={{ value: "normalized depth ℓ/(L−1)", position: "insideBottom", offset: -14 }}
          />
          <YAxis
            type="number"
            domain={["auto", "auto"]}
            tickFormatter={(v: number) => fmt(v, 2)}
            label={{ value: yLabel, angle: -90, position: "insideLeft", offset: 12, style: { textAnchor: "middle" } }}
            width={64}
          />
          <Tooltip formatter={(v) => fmt(Number(v))} labelFormatter={(d) => `depth ${fmt(Number(d), 2)}`} />
          {series.length > 1 ? <Legend verticalAlign="top" itemSorter={(item) => series.findIndex((s) => s.label === item.value)} /> : null}
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
        </LineChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}
