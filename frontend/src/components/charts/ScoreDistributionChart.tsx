/**
 * A signed mode's score (or another per-image quantity with fixed bins, `quantity`, e.g. the attention
 * the mode moves) over every image of the dataset: the fixed bins as bars (the axis spans the
 * bars that count images, lib/charts/distribution), the underflow and overflow counts as one bar each
 * beyond the edges (labelled with the minimum or maximum they reach), mean ± std as a band with the
 * mean dashed, the top-K images' scores as lines (#1 labelled), and optionally one more score marked
 * on its own (the user's image).
 */
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  LabelList,
  ReferenceArea,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { TableContext } from "../../lib/charts/csvExport";
import {
  barIndex,
  binnedDomain,
  type DistributionBar,
  distributionBars,
  type Histogram,
  markX,
  scoreDomain,
} from "../../lib/charts/distribution";
import { count, fmt, integer } from "../../lib/common/format";
import { ChartFrame } from "./ChartFrame";

export interface TopScore {
  /** 0 = the best image. */
  rank: number;
  score: number;
}

/** A score marked apart from the top images (the user's image on a mode page). */
export interface ScoreMarker {
  score: number;
  /** Drawn at the line, e.g. "your image". */
  label: string;
}

export interface ScoreDistributionChartProps {
  title: string;
  /** The mode, for the summary ("L0 H0 M0 pos"). */
  name: string;
  /** `firing`, when given, is said in the summary (scores only). */
  distribution: Histogram & { firing?: number };
  /** What the histogram counts, on the axis and in the summary (default "score"). */
  quantity?: string;
  top: TopScore[];
  fileName: string[];
  context?: TableContext | undefined;
  height?: number;
  marker?: ScoreMarker | undefined;
  /** The bars (indices into `distributionBars`) to highlight, e.g. the band picked. */
  highlighted?: ReadonlySet<number> | undefined;
  /** Called with a bar's index when it is clicked (the bars are then shown as clickable). */
  onBarClick?: ((bar: number) => void) | undefined;
}

const KIND_TEXT = { under: "below the first edge", bin: "bin", over: "from the last edge on" } as const;

/** About this many labelled ticks on the score axis. */
const TICKS = 6;

function niceTicks(low: number, high: number): number[] {
  const span = high - low;
  if (!(span > 0)) return [low];
  const raw = span / TICKS;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function ranksText(ranks: number[]): string {
  return ranks.map((r) => `#${r + 1}`).join(" ");
}

export function distributionSummary(
  name: string,
  d: Histogram & { firing?: number },
  top: TopScore[],
  marker?: ScoreMarker | undefined,
  quantity = "score",
): string {
  const low = d.edges[0] ?? 0;
  const high = d.edges.at(-1) ?? low;
  const under = d.counts[0] ?? 0;
  const over = d.counts.at(-1) ?? 0;
  const scores = top.map((t) => t.score);
  const [shownLow, shownHigh] = binnedDomain(d, marker ? [marker.score] : []);
  const trimmed = shownLow > low || shownHigh < high;
  return (
    `Histogram of the ${quantity} of ${name} over ${count(d.count, "image")} in ${count(d.edges.length - 1, "bin")} ` +
    `from ${fmt(low)} to ${fmt(high)}: mean ${fmt(d.mean)}, standard deviation ${fmt(d.std)}, ` +
    `from ${fmt(d.minimum)} to ${fmt(d.maximum)}` +
    (d.firing !== undefined ? `; it fires on ${count(d.firing, "image")}. ` : ". ") +
    `${integer(under)} below the bins, ${integer(over)} beyond them.` +
    (trimmed ? ` The axis shows the bins from ${fmt(shownLow)} to ${fmt(shownHigh)}; the others are empty.` : "") +
    (scores.length > 0
      ? ` The top ${count(scores.length, "image")}: ${quantity} ${fmt(Math.min(...scores))} to ${fmt(Math.max(...scores))} (lines).`
      : "") +
    (marker ? ` Marked apart: ${marker.label}, ${quantity} ${fmt(marker.score)}.` : "")
  );
}

export function ScoreDistributionChart({
  title,
  name,
  distribution: d,
  quantity = "score",
  top,
  fileName,
  context,
  height = 260,
  marker,
  highlighted,
  onBarClick,
}: ScoreDistributionChartProps) {
  const bars = distributionBars(d);
  const marked = marker ? [marker.score] : [];
  const [lo, hi] = scoreDomain(d, marked);
  const ranksIn = bars.map(() => [] as number[]);
  for (const t of top) ranksIn[barIndex(d, t.score)]?.push(t.rank);
  const table = {
    columns: ["bar", "from", "to", "images", "top images"],
    rows: bars.map((b, i) => [KIND_TEXT[b.kind], b.from, b.to, b.count, ranksText(ranksIn[i] ?? [])]),
  };
  // One line per distinct position (ties draw once), #1 labelled.
  const firstRankAt = new Map<number, number>();
  for (const t of [...top].sort((a, b) => a.rank - b.rank)) {
    const x = markX(d, t.score);
    if (!firstRankAt.has(x)) firstRankAt.set(x, t.rank);
  }
  const marks = [...firstRankAt.entries()].map(([x, rank]) => ({ x, rank }));
  const clamp = (v: number) => Math.min(hi, Math.max(lo, v));
  const ticks = niceTicks(...binnedDomain(d, marked));
  return (
    <ChartFrame
      title={title}
      summary={distributionSummary(name, d, top, marker, quantity)}
      table={table}
      fileName={fileName}
      context={context}
    >
      <ResponsiveContainer width="100%" height={height}>
        <BarChart data={bars} margin={{ top: 20, right: 16, bottom: 24, left: 8 }} barCategoryGap={0} barGap={0}>
          <CartesianGrid strokeDasharray="3 3" className="chart-grid" vertical={false} />
          <XAxis
            type="number"
            dataKey="x"
            domain={[lo, hi]}
            ticks={ticks}
            allowDataOverflow
            tickFormatter={(v: number) => fmt(v, 2)}
            label={{ value: quantity, position: "insideBottom", offset: -14 }}
          />
          <YAxis
            allowDecimals={false}
            width={48}
            label={{ value: "images", angle: -90, position: "insideLeft", offset: 12 }}
          />
          <Tooltip
            formatter={(v) => [String(v), "images"]}
            labelFormatter={(_, payload) => {
              const bar = payload?.[0]?.payload as DistributionBar | undefined;
              if (!bar) return "";
              if (bar.kind === "under") return `below ${fmt(bar.to)} (down to ${fmt(bar.from)})`;
              if (bar.kind === "over") return `from ${fmt(bar.from)} on (up to ${fmt(bar.to)})`;
              return `${fmt(bar.from)} to ${fmt(bar.to)}`;
            }}
          />
          {d.std > 0 ? (
            <ReferenceArea x1={clamp(d.mean - d.std)} x2={clamp(d.mean + d.std)} className="chart-band" />
          ) : null}
          <Bar
            dataKey="count"
            name="images"
            isAnimationActive={false}
            minPointSize={0}
            onClick={onBarClick ? (_: unknown, index: number) => onBarClick(index) : undefined}
            className={onBarClick ? "bars-clickable" : undefined}
          >
            {bars.map((b, i) => (
              <Cell
                key={i}
                className={[b.kind === "bin" ? "bar-sigma" : "bar-outside", highlighted?.has(i) ? "bar-picked" : ""]
                  .join(" ")
                  .trim()}
              />
            ))}
            <LabelList dataKey="reach" position="top" className="bar-reach" />
          </Bar>
          <ReferenceLine
            x={clamp(d.mean)}
            className="line-mean"
            label={{ value: "mean", position: "insideTopLeft", className: "mark-label" }}
          />
          {marks.map((m) => (
            <ReferenceLine
              key={m.x}
              x={m.x}
              className="line-top"
              label={m.rank === 0 ? { value: "#1", position: "insideTopRight", className: "mark-label" } : undefined}
            />
          ))}
          {marker ? (
            <ReferenceLine
              x={markX(d, marker.score)}
              className="line-marker"
              label={{ value: marker.label, position: "top", className: "mark-label mark-label-marker" }}
            />
          ) : null}
        </BarChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}
