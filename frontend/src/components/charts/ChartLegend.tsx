/**
 * A chart's legend as a list of swatches and names. Its items have recharts' legend classes, so the
 * PNG export (lib/charts/chartPng) draws them as it draws recharts' own legends.
 */

export interface LegendItem {
  /** Unique within the legend. */
  label: string;
  /** A line (a series, a curve) or a filled box (bars, a band). */
  shape: "line" | "box";
  /** The swatch's colour; without one, its class's colour (the theme's). */
  colour?: string | undefined;
  /** A class for the swatch, whose CSS gives it the colour of what it names. */
  swatchClass?: string | undefined;
  /** A box's fill opacity (a translucent band), its outline staying opaque. */
  fillOpacity?: number | undefined;
  dashed?: boolean | undefined;
  /** A class for the item, for tests and styles. */
  className?: string | undefined;
}

export function ChartLegend({ items }: { items: LegendItem[] }) {
  return (
    <ul className="recharts-default-legend chart-legend">
      {items.map((item) => (
        <li key={item.label} className={["recharts-legend-item", item.className].filter(Boolean).join(" ")}>
          <svg width="14" height="10" aria-hidden="true">
            {item.shape === "line" ? (
              <line
                x1="0"
                y1="5"
                x2="14"
                y2="5"
                stroke={item.colour ?? "currentColor"}
                strokeWidth="2"
                strokeDasharray={item.dashed ? "4 2" : undefined}
                className={item.swatchClass}
              />
            ) : (
              <path
                d="M0.5 0.5H13.5V9.5H0.5Z"
                fill={item.colour ?? "currentColor"}
                fillOpacity={item.fillOpacity}
                stroke={item.dashed ? (item.colour ?? "currentColor") : "none"}
                strokeDasharray={item.dashed ? "3 2" : undefined}
                className={item.swatchClass}
              />
            )}
          </svg>
          <span className="recharts-legend-item-text">{item.label}</span>
        </li>
      ))}
    </ul>
  );
}
