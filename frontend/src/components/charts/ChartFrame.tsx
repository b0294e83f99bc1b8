/** A chart's figure: caption, an accessible summary, the chart, and its data as a table. */
import type { ReactNode } from "react";

export interface DataTable {
  columns: string[];
  rows: (string | number)[][];
}

export function ChartFrame({
  title,
  summary,
  table,
  children,
}: {
  title: string;
  summary: string;
  table: DataTable;
  children: ReactNode;
}) {
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div className="chart-canvas" role="img" aria-label={summary}>
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
                    <td key={j}>{cell}</td>
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
