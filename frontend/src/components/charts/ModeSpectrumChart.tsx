/**
 * One head's modes: σ as bars (left axis) and the cosine u·v as a line (right axis), both named in the
 * legend; a bar opens its mode. An inactive mode has no cosine: the line skips it rather than drawing
 * its stored 0.
 */
import {
  Bar,
  CartesianGrid,
  Cell,
  ComposedChart,
  Legend,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { TableContext } from "../../lib/charts/csvExport";
import { count, fmt, INACTIVE_LABEL, integer } from "../../lib/common/format";
import { ChartFrame } from "./ChartFrame";
import { ChartLegend, type LegendItem } from "./ChartLegend";

export interface ModePoint {
  mode: number;
  sigma: number;
  cos: number;
  degenerate: boolean;
  active: boolean;
}

export interface ModeSpectrumChartProps {
  title: string;
  modes: ModePoint[];
  selected?: number | undefined;
  onSelect?: ((mode: number) => void) | undefined;
  fileName: string[];
  context?: TableContext | undefined;
  height?: number;
}

/** The legend: σ's bars (and the degenerate and selected ones, when shown) and the cosine's line. */
export function spectrumLegend(modes: ModePoint[], selected?: number): LegendItem[] {
  return [
    { label: "σ (bars, left axis)", shape: "box", swatchClass: "bar-sigma" },
    ...(modes.some((m) => m.degenerate)
      ? [{ label: "degenerate (σ ≈ a neighbour's)", shape: "box", swatchClass: "bar-degenerate" } as const]
      : []),
    ...(selected !== undefined && modes.some((m) => m.mode === selected)
      ? [{ label: "this mode", shape: "box", swatchClass: "bar-selected" } as const]
      : []),
    { label: "cos u·v (line, right axis)", shape: "line", swatchClass: "line-cos-swatch" },
  ];
}

export function ModeSpectrumChart({
  title,
  modes,
  selected,
  onSelect,
  fileName,
  context,
  height = 260,
}: ModeSpectrumChartProps) {
  const data = modes.map((m) => ({ ...m, cos: m.active ? m.cos : null }));
  const table = {
    columns: ["mode", "σ", "cos u·v", "degenerate", "active"],
    rows: data.map((m) => [m.mode, m.sigma, m.cos, m.degenerate, m.active]),
  };
  const inactive = modes.filter((m) => !m.active).length;
  const summary =
    `σ (bars, left axis) and cosine u·v (line, right axis) of the ${count(modes.length, "mode")} of this head.` +
    (inactive > 0 ? ` ${integer(inactive)} ${INACTIVE_LABEL}, without a cosine.` : "");
  const legend = spectrumLegend(modes, selected);
  return (
    <ChartFrame title={title} summary={summary} table={table} fileName={fileName} context={context}>
      <ResponsiveContainer width="100%" height={height}>
        <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 24, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" className="chart-grid" />
          <XAxis dataKey="mode" label={{ value: "mode n", position: "insideBottom", offset: -14 }} />
          <YAxis
            yAxisId="sigma"
            tickFormatter={(v: number) => fmt(v, 2)}
            width={56}
            label={{ value: "σ", angle: -90, position: "insideLeft", offset: 12 }}
          />
          <YAxis
            yAxisId="cos"
            orientation="right"
            domain={[-1, 1]}
            ticks={[-1, -0.5, 0, 0.5, 1]}
            width={52}
            label={{ value: "cos u·v", angle: 90, position: "insideRight", offset: 8, style: { textAnchor: "middle" } }}
          />
          <Legend verticalAlign="top" content={() => <ChartLegend items={legend} />} />
          <Tooltip
            formatter={(v, name) => [fmt(typeof v === "number" ? v : null), name]}
            labelFormatter={(m) => `mode ${String(m)}`}
          />
          <Bar
            yAxisId="sigma"
            dataKey="sigma"
            name="σ"
            isAnimationActive={false}
            onClick={(entry: { payload?: ModePoint }) => entry.payload && onSelect?.(entry.payload.mode)}
            cursor={onSelect ? "pointer" : undefined}
          >
            {modes.map((m) => (
              <Cell
                key={m.mode}
                className={m.mode === selected ? "bar-selected" : m.degenerate ? "bar-degenerate" : "bar-sigma"}
              />
            ))}
          </Bar>
          <Line
            yAxisId="cos"
            dataKey="cos"
            name="cos u·v"
            className="line-cos"
            dot={{ r: 2 }}
            isAnimationActive={false}
          />
        </ComposedChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}
