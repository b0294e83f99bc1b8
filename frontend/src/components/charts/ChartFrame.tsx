/**
 * A chart's figure: caption, download buttons (PNG and CSV), an accessible summary, the chart, and
 * the data it draws as a table. Every chart of the dashboard is drawn in one.
 */
import { type ReactNode, useRef } from "react";
import type { Cell, DataTable, TableContext } from "../../lib/charts/csvExport";
import { fmt } from "../../lib/common/format";
import type { GlossaryTerm } from "../../lib/help/glossary";
import { HelpTip } from "../ui/HelpTip";
import { ChartDownload } from "./ChartDownload";

export type { DataTable } from "../../lib/charts/csvExport";

function cellText(value: Cell): string {
  if (value === null) return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : fmt(value);
  return value;
}

export function ChartFrame({
  title,
  summary,
  table,
  fileName,
  context,
  help,
  children,
}: {
  title: string;
  /** The glossary term the chart is about: a "?" after its caption. */
  help?: GlossaryTerm | undefined;
  summary: string;
  table: DataTable;
  /** What the chart is, for the download file names, e.g. `[model slug, "cosine-depth"]`. */
  fileName: string[];
  /** Columns with one value for the whole chart (the model of a model page), first in the CSV. */
  context?: TableContext | undefined;
  children: ReactNode;
}) {
  const canvas = useRef<HTMLDivElement>(null);
  return (
    <figure className="chart">
      <div className="chart-head">
        <figcaption>
          {title}
          {help ? <HelpTip term={help} /> : null}
        </figcaption>
        <ChartDownload title={title} fileName={fileName} table={table} context={context} chart={canvas} />
      </div>
      <div className="chart-canvas" role="img" aria-label={summary} ref={canvas}>
        {children}
      </div>
      <details className="chart-data">
        <summary>Data as a table</summary>
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                {table.columns.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {table.rows.map((row, i) => (
                <tr key={i}>
                  {row.map((cell, j) => (
                    <td key={j}>{cellText(cell)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
