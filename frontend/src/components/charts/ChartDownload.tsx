/**
 * "Download PNG / CSV" of one chart: the PNG from its SVG at 2x (or drawn by `drawPng`), the CSV from
 * the data it draws.
 */
import { type RefObject, useState } from "react";
import { chartPng } from "../../lib/charts/chartPng";
import { type DataTable, type TableContext, toCsv } from "../../lib/charts/csvExport";
import { downloadBlob, exportFileName } from "../../lib/charts/download";

export interface ChartDownloadProps {
  title: string;
  /** What the chart is, for the file names (`qkatlas-<parts>.png`), e.g. `[model, "cosine-depth"]`. */
  fileName: string[];
  table: DataTable;
  context?: TableContext | undefined;
  /** The element the chart is drawn in. */
  chart: RefObject<HTMLElement | null>;
  /** Draws the PNG (title, subtitle, chart) in the theme of `chart`; by default, from the chart's SVG. */
  drawPng?: ((chart: HTMLElement, title: string, subtitle: string) => Promise<Blob>) | undefined;
}

export function ChartDownload({ title, fileName, table, context, chart, drawPng = chartPng }: ChartDownloadProps) {
  const [problem, setProblem] = useState<string | null>(null);
  const downloadPng = async () => {
    setProblem(null);
    try {
      if (!chart.current) throw new Error("the chart has not been drawn yet");
      const subtitle = Object.entries(context ?? {})
        .map(([name, value]) => `${name}: ${value}`)
        .join(" · ");
      downloadBlob(await drawPng(chart.current, title, subtitle), exportFileName(fileName, "png"));
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    }
  };
  const downloadCsv = () => {
    const csv = toCsv(table, context);
    downloadBlob(new Blob([csv], { type: "text/csv;charset=utf-8" }), exportFileName(fileName, "csv"));
  };
  return (
    <div className="chart-download" role="group" aria-label={`Download “${title}”`}>
      <button type="button" className="button button-small" onClick={() => void downloadPng()}>
        Download PNG
      </button>
      <button type="button" className="button button-small" onClick={downloadCsv}>
        Download CSV
      </button>
      {problem ? (
        <span role="alert" className="chart-download-problem">
          PNG failed: {problem}.
        </span>
      ) : null}
    </div>
  );
}
