/** Singular spectra: σ against mode index, one line per layer (or per head of one layer). */
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { TableContext } from "../../lib/charts/csvExport";
import { count, fmt } from "../../lib/common/format";
import { ChartFrame } from "./ChartFrame";

export interface SpectrumLine {
  label: string;
  values: number[];
  /** Line colour; callers colour by depth so early and late layers read apart. */
  color: string;
}

/** Beyond this many lines a legend is noise; the colours (by depth) and the table still tell them apart. */
const MAX_LEGEND_ITEMS = 16;

export interface SpectrumChartProps {
  title: string;
  lines: SpectrumLine[];
  logScale?: boolean;
  fileName: string[];
  context?: TableContext | undefined;
  height?: number;
}

export function SpectrumChart({ title, lines, logScale = false, fileName, context, height = 280 }: SpectrumChartProps) {
  const nModes = Math.max(0, ...lines.map((l) => l.values.length));
  const rows = Array.from({ length: nModes }, (_, mode) => {
    const row: Record<string, number> = { mode };
    lines.forEach((l, i) => {
      const v = l.values[mode];
      if (v !== undefined && (!logScale || v > 0)) row[`s${i}`] = v;
    });
    return row;
  });
  const table = {
    columns: ["mode", ...lines.map((l) => l.label)],
    rows: rows.map((r) => [r.mode ?? 0, ...lines.map((_, i) => r[`s${i}`] ?? null)]),
  };
  const summary = `Singular values σ of each mode, ${count(lines.length, "line")}: ${lines.map((l) => l.label).join(", ")}.`;
  return (
    <ChartFrame title={title} summary={summary} table={table} fileName={fileName} context={context}>
      <ResponsiveContainer width="100%" height={height}>
        <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 24, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" className="chart-grid" />
          <XAxis
            dataKey="mode"
            type="number"
            domain={[0, Math.max(0, nModes - 1)]}
            label={{ value: "mode n", position: "insideBottom", offset: -14 }}
          />
          <YAxis
            scale={logScale ? "log" : "linear"}
            domain={logScale ? ["auto", "auto"] : [0, "auto"]}
            allowDataOverflow={false}
            tickFormatter={(v: number) => fmt(v, 2)}
            label={{ value: "σ", angle: -90, position: "insideLeft", offset: 12 }}
            width={64}
          />
          <Tooltip formatter={(v) => fmt(Number(v))} labelFormatter={(m) => `mode ${String(m)}`} />
          {lines.length <= MAX_LEGEND_ITEMS ? (
            <Legend verticalAlign="top" itemSorter={(item) => Number(String(item.dataKey).slice(1))} />
          ) : null}
          {lines.map((l, i) => (
            <Line
              key={l.label}
              dataKey={`s${i}`}
              name={l.label}
              stroke={l.color}
              dot={false}
              strokeWidth={1.5}
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}
