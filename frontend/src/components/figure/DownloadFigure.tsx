/**
 * "Download figure": the page's mode or head as a figure for a paper, drawn by the service
 * (docs/method.md#figures): an SVG with its text as paths, or a 300-dpi PNG, with the page's sign, basis and
 * overlay options, pinned to the atlas revision the page shows.
 */
import type { Basis, Sign } from "../../api/client";
import type { OverlayOptions } from "../../lib/mode/overlay";

export interface FigureOf {
  model: string;
  /** The atlas revision the page shows (the figure's address names it, so it is cached for good). */
  revision: string;
  layer: number;
  head: number;
  /** Absent: the head's figure. */
  mode?: number;
  sign: Sign;
  basis: Basis;
}

export const FIGURE_FORMATS = [
  { format: "svg", label: "SVG", title: "Vector figure: text as paths, images embedded" },
  { format: "png", label: "PNG (300 dpi)", title: "Raster figure at 300 dpi" },
] as const;

export type FigureFormat = (typeof FIGURE_FORMATS)[number]["format"];

/** The figure's address in the API for `format`, with the page's overlay options. */
export function figureUrl(of: FigureOf, format: FigureFormat, options: OverlayOptions): string {
  let path = `/api/models/${encodeURIComponent(of.model)}/layers/${of.layer}/heads/${of.head}`;
  if (of.mode !== undefined) path += `/modes/${of.mode}`;
  const params = new URLSearchParams({
    sign: of.sign,
    basis: of.basis,
    channel: options.channel,
    palette: options.palette,
    blend: options.blend.toFixed(2),
    opacity: options.opacity.toFixed(2),
    v: of.revision,
  });
  return `${path}/figure.${format}?${params}`;
}

export function DownloadFigure({ of, options }: { of: FigureOf; options: OverlayOptions }) {
  const what = of.mode === undefined ? "this head's first active modes" : "this mode's top images";
  return (
    <span className="download-figure" role="group" aria-label={`Download a figure of ${what}`}>
      <span className="download-figure-label">Download figure:</span>
      {FIGURE_FORMATS.map(({ format, label, title }) => (
        <a key={format} className="button" href={figureUrl(of, format, options)} download title={title}>
          {label}
        </a>
      ))}
    </span>
  );
}
