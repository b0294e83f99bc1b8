/**
 * Chart downloads: the data a chart draws as CSV, and the chart itself as a PNG rendered from its
 * SVG at 2x (title and legend included, since recharts draws its legend in HTML outside the SVG).
 */

export type Cell = string | number | boolean | null;

/** The data a chart draws, one row per drawn point; the CSV and the "Data as a table" view share it. */
export interface DataTable {
  columns: string[];
  rows: Cell[][];
}

/** Columns with one value for the whole chart (e.g. the model of a model page), put first in the CSV. */
export type TableContext = Record<string, string>;

function csvCell(value: Cell): string {
  if (value === null) return "";
  const text = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV with a header row; numbers at full precision; the context's columns come first. */
export function toCsv(table: DataTable, context: TableContext = {}): string {
  const fixed = Object.entries(context);
  const header = [...fixed.map(([name]) => name), ...table.columns];
  const rows = table.rows.map((row) => [...fixed.map(([, value]) => value), ...row]);
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/** `qkatlas-<parts>.<ext>`, lower case, with anything but letters, digits, `.`, `_` and `-` as `-`. */
export function exportFileName(parts: string[], extension: "csv" | "png"): string {
  const stem = ["qkatlas", ...parts]
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-|-$/g, "");
  return `${stem}.${extension}`;
}

export function downloadBlob(blob: Blob, fileName: string): void {
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = fileName;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers; a minute is plenty.
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** Presentation properties that the stylesheet sets on chart elements (themes, classes). */
const STYLE_PROPERTIES = [
  "fill",
  "fill-opacity",
  "stroke",
  "stroke-width",
  "stroke-dasharray",
  "stroke-opacity",
  "opacity",
  "font-family",
  "font-size",
  "font-weight",
  "visibility",
] as const;

/** A standalone copy of `svg`: the computed styles inlined, so that it renders as it looks here. */
function standaloneSvg(svg: SVGSVGElement, width: number, height: number): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const originals = [svg, ...svg.querySelectorAll("*")];
  const copies = [copy, ...copy.querySelectorAll("*")];
  originals.forEach((element, i) => {
    const computed = getComputedStyle(element);
    const target = copies[i] as SVGElement;
    for (const property of STYLE_PROPERTIES) {
      const value = computed.getPropertyValue(property);
      if (value) target.style.setProperty(property, value);
    }
  });
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("width", String(width));
  copy.setAttribute("height", String(height));
  return new XMLSerializer().serializeToString(copy);
}

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the chart could not be rendered as an image"));
    image.src = src;
  });
}

/** The first non-transparent background at or above `element` (the page's, in the end). */
function backgroundOf(element: Element): string {
  for (let node: Element | null = element; node; node = node.parentElement) {
    const colour = getComputedStyle(node).backgroundColor;
    if (colour && colour !== "transparent" && !/rgba\(.*,\s*0\)$/.test(colour)) return colour;
  }
  return "#ffffff";
}

interface LegendEntry {
  label: string;
  colour: string;
}

function legendEntries(container: Element): LegendEntry[] {
  return [...container.querySelectorAll(".recharts-legend-item")].map((item) => {
    const icon = item.querySelector("svg path, svg line");
    const iconStyle = icon ? getComputedStyle(icon) : null;
    const colour =
      icon?.getAttribute("stroke") && icon.getAttribute("stroke") !== "none"
        ? iconStyle?.stroke
        : iconStyle?.fill;
    return { label: item.textContent?.trim() ?? "", colour: colour || "#888888" };
  });
}

interface PlacedEntry extends LegendEntry {
  x: number;
  row: number;
}

const LEGEND_ROW = 20;

/** Legend entries laid out left to right, wrapping at `width`. */
function placeLegend(entries: LegendEntry[], measure: (text: string) => number, width: number): PlacedEntry[] {
  let x = 0;
  let row = 0;
  return entries.map((entry) => {
    const size = 18 + measure(entry.label) + 16;
    if (x > 0 && x + size > width) {
      x = 0;
      row += 1;
    }
    const placed = { ...entry, x, row };
    x += size;
    return placed;
  });
}

/**
 * The chart inside `container` as a PNG at `scale`x: `title` on top (and `subtitle`, e.g. the model,
 * under it), then the legend, then the SVG on the chart's own background, in the current theme.
 */
export async function chartPng(container: Element, title: string, subtitle = "", scale = 2): Promise<Blob> {
  // The chart's own surface, not the first <svg> in document order (legend icons are SVGs too).
  const svg = container.querySelector<SVGSVGElement>(".recharts-wrapper > svg.recharts-surface");
  if (!svg) throw new Error("the chart has not been drawn yet");
  const { width, height } = svg.getBoundingClientRect();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d");
  if (!context) throw new Error("this browser cannot draw on a canvas");
  const style = getComputedStyle(container);
  const font = style.fontFamily || "sans-serif";
  const foreground = style.color || "#000000";
  const pad = 12;
  const titleHeight = subtitle ? 42 : 24;
  context.font = `12px ${font}`;
  const legend = placeLegend(legendEntries(container), (t) => context.measureText(t).width, width);
  const legendHeight = legend.length > 0 ? (Math.max(...legend.map((e) => e.row)) + 1) * LEGEND_ROW : 0;
  const fullWidth = width + 2 * pad;
  const fullHeight = height + titleHeight + legendHeight + 2 * pad;
  canvas.width = Math.ceil(fullWidth * scale);
  canvas.height = Math.ceil(fullHeight * scale);
  context.scale(scale, scale); // resizing reset the context: scale and fonts are set from here on
  context.fillStyle = backgroundOf(container);
  context.fillRect(0, 0, fullWidth, fullHeight);
  context.fillStyle = foreground;
  context.textBaseline = "middle";
  context.font = `600 14px ${font}`;
  context.fillText(title, pad, pad + 12);
  context.font = `12px ${font}`;
  if (subtitle) context.fillText(subtitle, pad, pad + 31);
  for (const entry of legend) {
    const x = pad + entry.x;
    const y = pad + titleHeight + entry.row * LEGEND_ROW + LEGEND_ROW / 2;
    context.fillStyle = entry.colour;
    context.fillRect(x, y - 2, 14, 4);
    context.fillStyle = foreground;
    context.fillText(entry.label, x + 18, y);
  }
  const source = new Blob([standaloneSvg(svg, width, height)], { type: "image/svg+xml" });
  const url = URL.createObjectURL(source);
  try {
    const image = await loadImage(url);
    context.drawImage(image, pad, pad + titleHeight + legendHeight, width, height);
  } finally {
    URL.revokeObjectURL(url);
  }
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the PNG could not be encoded"))), "image/png"),
  );
}
