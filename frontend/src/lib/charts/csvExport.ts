/** A chart's data as CSV: the rows it draws, with the page's context first (RFC 4180). */

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
