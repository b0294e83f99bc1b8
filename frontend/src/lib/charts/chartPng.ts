/**
 * Charts drawn on a canvas as PNGs at 2x, in the page's theme: a recharts chart from its SVG (title
 * and legend included, since recharts draws its legend in HTML outside the SVG), and a heatmap (the
 * layers × heads grid) cell by cell.
 */

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

export interface LegendEntry {
  label: string;
  colour: string;
}

function legendEntries(container: Element): LegendEntry[] {
  return [...container.querySelectorAll(".recharts-legend-item")].map((item) => {
    const icon = item.querySelector("svg path, svg line");
    const iconStyle = icon ? getComputedStyle(icon) : null;
    const colour =
      icon?.getAttribute("stroke") && icon.getAttribute("stroke") !== "none" ? iconStyle?.stroke : iconStyle?.fill;
    // The entry's text alone: an item may also hold a control (the band's "?" help).
    const text = item.querySelector(".recharts-legend-item-text") ?? item;
    return { label: text.textContent?.trim() ?? "", colour: colour || "#888888" };
  });
}

export interface PlacedEntry extends LegendEntry {
  x: number;
  row: number;
}

const LEGEND_ROW = 20;

/** Legend entries laid out left to right, wrapping at `width`. */
export function placeLegend(entries: LegendEntry[], measure: (text: string) => number, width: number): PlacedEntry[] {
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

const PAD = 12;

/** A canvas and its 2D context (the context can measure text before the canvas is sized). */
function newCanvas(): { canvas: HTMLCanvasElement; context: CanvasRenderingContext2D } {
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d");
  if (!context) throw new Error("this browser cannot draw on a canvas");
  return { canvas, context };
}

interface Sheet {
  font: string;
  foreground: string;
  /** Where the body (legend, chart) starts, below the title, in CSS pixels. */
  top: number;
}

/**
 * Sizes `canvas` for a body of `width` × `height` CSS pixels at `scale`x, fills it with the
 * background of `container` (the page's theme) and draws `title` and `subtitle` (e.g. the model) on top.
 */
function beginSheet(
  canvas: HTMLCanvasElement,
  context: CanvasRenderingContext2D,
  container: Element,
  width: number,
  height: number,
  title: string,
  subtitle: string,
  scale: number,
): Sheet {
  const style = getComputedStyle(container);
  const font = style.fontFamily || "sans-serif";
  const foreground = style.color || "#000000";
  const titleHeight = subtitle ? 42 : 24;
  const fullWidth = width + 2 * PAD;
  const fullHeight = height + titleHeight + 2 * PAD;
  canvas.width = Math.ceil(fullWidth * scale);
  canvas.height = Math.ceil(fullHeight * scale);
  context.scale(scale, scale); // resizing reset the context: scale and fonts are set from here on
  context.fillStyle = backgroundOf(container);
  context.fillRect(0, 0, fullWidth, fullHeight);
  context.fillStyle = foreground;
  context.textBaseline = "middle";
  context.font = `600 14px ${font}`;
  context.fillText(title, PAD, PAD + 12);
  context.font = `12px ${font}`;
  if (subtitle) context.fillText(subtitle, PAD, PAD + 31);
  return { font, foreground, top: PAD + titleHeight };
}

function canvasPng(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the PNG could not be encoded"))), "image/png"),
  );
}

/** `container`'s font, for measuring text before the sheet is drawn. */
function fontOf(container: Element): string {
  return getComputedStyle(container).fontFamily || "sans-serif";
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
  const { canvas, context } = newCanvas();
  context.font = `12px ${fontOf(container)}`;
  const legend = placeLegend(legendEntries(container), (t) => context.measureText(t).width, width);
  const legendHeight = legend.length > 0 ? (Math.max(...legend.map((e) => e.row)) + 1) * LEGEND_ROW : 0;
  const { foreground, top } = beginSheet(
    canvas,
    context,
    container,
    width,
    height + legendHeight,
    title,
    subtitle,
    scale,
  );
  for (const entry of legend) {
    const x = PAD + entry.x;
    const y = top + entry.row * LEGEND_ROW + LEGEND_ROW / 2;
    context.fillStyle = entry.colour;
    context.fillRect(x, y - 2, 14, 4);
    context.fillStyle = foreground;
    context.fillText(entry.label, x + 18, y);
  }
  const source = new Blob([standaloneSvg(svg, width, height)], { type: "image/svg+xml" });
  const url = URL.createObjectURL(source);
  try {
    const image = await loadImage(url);
    context.drawImage(image, PAD, top + legendHeight, width, height);
  } finally {
    URL.revokeObjectURL(url);
  }
  return canvasPng(canvas);
}

/** A matrix drawn as coloured cells, e.g. the layers × heads grid. */
export interface Heatmap {
  /** [row][column] values; null (no value, e.g. an inactive head) is drawn hatched, as on screen. */
  values: (number | null)[][];
  rowLabels: string[];
  columnLabels: string[];
  /** The fill of a cell, as on screen. */
  colour: (value: number) => string;
  /** The colour scale: a ramp through `stops` from `min` to `max`, with what it means. */
  legend: { min: string; max: string; stops: string[]; label: string };
}

/**
 * `heatmap` as a PNG at `scale`x: `title` and `subtitle` on top, the colour scale, then the cells with
 * the column labels above and the row labels on the left, in the theme of `container`.
 */
export function heatmapPng(
  container: Element,
  heatmap: Heatmap,
  title: string,
  subtitle = "",
  scale = 2,
): Promise<Blob> {
  const { values, rowLabels, columnLabels, colour, legend } = heatmap;
  const nRows = values.length;
  const nColumns = Math.max(0, ...values.map((row) => row.length));
  const cellWidth = nColumns > 24 ? 16 : 30;
  const cellHeight = nRows > 32 ? 14 : 22;
  const gap = 2;
  const { canvas, context } = newCanvas();
  const font = fontOf(container);
  context.font = `11px ${font}`;
  const rowLabelWidth = Math.ceil(Math.max(0, ...rowLabels.map((t) => context.measureText(t).width))) + 8;
  context.font = `12px ${font}`;
  const ramp = 140;
  const minWidth = context.measureText(legend.min).width;
  const maxWidth = context.measureText(legend.max).width;
  const legendWidth = minWidth + 6 + ramp + 6 + maxWidth + 12 + context.measureText(legend.label).width;
  const labelRow = 18; // the column labels
  const legendRow = 26;
  const gridWidth = rowLabelWidth + nColumns * (cellWidth + gap);
  const gridHeight = labelRow + nRows * (cellHeight + gap);
  const width = Math.ceil(Math.max(gridWidth, legendWidth));
  const { foreground, top } = beginSheet(
    canvas,
    context,
    container,
    width,
    legendRow + gridHeight,
    title,
    subtitle,
    scale,
  );

  // The colour scale, as under the grid on screen: min, ramp, max, what it means.
  const legendY = top + legendRow / 2 - 2;
  context.font = `12px ${font}`;
  context.fillStyle = foreground;
  context.fillText(legend.min, PAD, legendY);
  const rampX = PAD + minWidth + 6;
  const gradient = context.createLinearGradient(rampX, 0, rampX + ramp, 0);
  legend.stops.forEach((stop, i) =>
    gradient.addColorStop(legend.stops.length > 1 ? i / (legend.stops.length - 1) : 0, stop),
  );
  context.fillStyle = gradient;
  context.fillRect(rampX, legendY - 5, ramp, 10);
  context.fillStyle = foreground;
  context.fillText(legend.max, rampX + ramp + 6, legendY);
  context.fillText(legend.label, rampX + ramp + 6 + maxWidth + 12, legendY);

  // Column labels, row labels and the cells.
  const gridTop = top + legendRow;
  const cellsLeft = PAD + rowLabelWidth;
  const cellsTop = gridTop + labelRow;
  context.font = `11px ${font}`;
  context.textAlign = "center";
  columnLabels.slice(0, nColumns).forEach((label, column) => {
    context.fillText(label, cellsLeft + column * (cellWidth + gap) + cellWidth / 2, gridTop + labelRow / 2);
  });
  context.textAlign = "right";
  rowLabels.slice(0, nRows).forEach((label, row) => {
    context.fillText(label, cellsLeft - 6, cellsTop + row * (cellHeight + gap) + cellHeight / 2);
  });
  context.textAlign = "left";
  context.strokeStyle = "rgba(0, 0, 0, 0.08)";
  context.lineWidth = 1;
  values.forEach((row, r) =>
    row.forEach((value, c) => {
      const x = cellsLeft + c * (cellWidth + gap);
      const y = cellsTop + r * (cellHeight + gap);
      if (value === null) {
        context.save();
        context.strokeStyle = "rgba(128, 128, 128, 0.8)";
        context.beginPath();
        context.moveTo(x, y + cellHeight);
        context.lineTo(x + cellWidth, y);
        context.stroke();
        context.restore();
      } else {
        context.fillStyle = colour(value);
        context.fillRect(x, y, cellWidth, cellHeight);
      }
      context.strokeRect(x + 0.5, y + 0.5, cellWidth - 1, cellHeight - 1);
    }),
  );
  return canvasPng(canvas);
}
