/**
 * Every signed mode of a model in one table, virtualized: only the rows in view (and a few around
 * them) are in the DOM, and only the pages of rows they need are asked of the server, which sorts
 * and filters. The scroll height is the filtered total's, so a ViT-H's 81,920 rows scroll like 100.
 * Column headers are buttons (with `aria-sort` on the sorted one); the table announces its full
 * size (`aria-rowcount`) and each row its place (`aria-rowindex`). The table fits a 1440 px screen;
 * where it must scroll sideways, the columns that name a mode stay put and the sorted column is
 * scrolled into view. Its scroll (and the page's) is kept per address, for Back, Forward and reload.
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import { type MouseEvent, type ReactNode, useEffect, useRef } from "react";
import { Link, useNavigate } from "react-router";
import type { ModeIndexRow, ModeSortKey } from "../../api/client";
import { useModeIndexRows } from "../../api/useModeIndexRows";
import { fmt, integer, modeName, percent } from "../../lib/common/format";
import { type ModeIndexView, modeIndexQuery } from "../../lib/search/modeIndexView";
import { classPath, modePath } from "../../lib/address/paths";
import { useScrollMemory } from "../../lib/common/useScrollMemory";
import type { GlossaryTerm } from "../../lib/help/glossary";
import { HelpTip } from "../ui/HelpTip";
import { DegenerateBadge, InactiveBadge, NeverFiresBadge } from "../ui/SignBadge";
import { ErrorNotice } from "../ui/Status";

/** Height of a row in px (fixed in styles.css: `.mode-index tbody tr`). */
export const ROW_HEIGHT = 36;
/** Rows kept rendered above and below the visible ones. */
const OVERSCAN = 8;
/** What a statistics cell shows when the atlas has none. */
export const NOT_COMPUTED = "—";

interface Column {
  id: string;
  header: string;
  /** The header's longer description (a tooltip and part of the button's name). */
  title?: string;
  sort?: ModeSortKey;
  /** The glossary term the column shows: a "?" after its header. */
  help?: GlossaryTerm;
  /** A statistics column: "—" and not sortable when the atlas has no statistics. */
  stats?: boolean;
  /** The effect column: "—" and not sortable when the atlas did not measure it. */
  effects?: boolean;
  /** One of the columns that name a mode: they stay in view when the table scrolls sideways. */
  identifies?: boolean;
  width: number;
  numeric?: boolean;
  cell: (row: ModeIndexRow, link: string) => ReactNode;
}

const COLUMNS: Column[] = [
  {
    id: "layer",
    header: "layer",
    title: "position: layer, head, mode, sign",
    sort: "position",
    identifies: true,
    width: 66,
    numeric: true,
    cell: (r) => r.layer,
  },
  { id: "head", header: "head", identifies: true, width: 56, numeric: true, cell: (r) => r.head },
  {
    id: "mode",
    header: "mode",
    identifies: true,
    width: 60,
    cell: (r, link) => (
      <Link to={link} aria-label={`${modeName(r.layer, r.head, r.mode)} ${r.sign}`}>
        M{r.mode}
      </Link>
    ),
  },
  { id: "sign", header: "sign", help: "sign", identifies: true, width: 70, cell: (r) => r.sign },
  { id: "sigma", header: "σ", help: "sigma", sort: "sigma", width: 88, numeric: true, cell: (r) => fmt(r.sigma) },
  {
    id: "sigma_share",
    header: "σ share",
    title: "σ_n / Σ σ of the head",
    help: "sigmaShare",
    sort: "sigma_share",
    width: 104,
    numeric: true,
    cell: (r) => percent(r.sigma_share),
  },
  {
    id: "cos",
    header: "cos u·v",
    help: "cos",
    sort: "cos",
    width: 100,
    numeric: true,
    cell: (r) => (r.active ? fmt(r.cos) : "–"),
  },
  {
    id: "flags",
    header: "flags",
    width: 98,
    cell: (r) => (
      <>
        {r.active ? null : <InactiveBadge />}
        {r.degenerate ? <DegenerateBadge /> : null}
        {r.firing === 0 && r.active ? <NeverFiresBadge /> : null}
      </>
    ),
  },
  {
    id: "best_score",
    header: "best score",
    title: "score of the mode's best image",
    help: "score",
    sort: "best_score",
    width: 108,
    numeric: true,
    cell: (r) => fmt(r.best_score),
  },
  {
    id: "mean",
    header: "mean",
    title: "mean score over the dataset",
    sort: "mean",
    stats: true,
    width: 92, // room for an exponent: "-7.81e-18"
    numeric: true,
    cell: (r) => fmt(r.mean),
  },
  {
    id: "std",
    header: "std",
    title: "standard deviation of the score over the dataset",
    sort: "std",
    stats: true,
    width: 92, // room for an exponent: "-7.81e-18"
    numeric: true,
    cell: (r) => fmt(r.std),
  },
  {
    id: "firing",
    header: "fires on",
    title: "images on which the query and key maps both peak above 0",
    help: "firesOn",
    sort: "firing",
    stats: true,
    width: 106,
    numeric: true,
    cell: (r) => (r.firing === null ? "–" : integer(r.firing)),
  },
  {
    id: "selectivity",
    header: "selectivity",
    title: "(class mean − mean) / std for the mode's most selective class",
    help: "selectivity",
    sort: "selectivity",
    stats: true,
    width: 130,
    numeric: true,
    cell: (r) => fmt(r.selectivity),
  },
  {
    id: "top_class",
    header: "top class",
    title: "the mode's most selective class",
    stats: true,
    width: 108,
    cell: (r) => (r.top_class === null ? "–" : <Link to={classPath(r.top_class)}>{r.top_class}</Link>),
  },
  {
    id: "effect",
    header: "moved",
    title: "attention moved, 0 to 1: the mean share of a patch's attention row that removing the mode moves",
    help: "effect",
    sort: "effect",
    effects: true,
    width: 92,
    numeric: true,
    cell: (r) => fmt(r.effect),
  },
];

const TABLE_WIDTH = COLUMNS.reduce((sum, c) => sum + c.width, 0);

/** Where each column starts, in px from the table's left edge. */
const COLUMN_LEFT = COLUMNS.map((_, i) => COLUMNS.slice(0, i).reduce((sum, c) => sum + c.width, 0));

/** The width of the columns that stay in view when the table scrolls sideways. */
const IDENTIFYING_WIDTH = COLUMNS.filter((c) => c.identifies).reduce((sum, c) => sum + c.width, 0);

/** The cell's class: numbers right-aligned; the identifying columns sticky (the last one with an edge). */
function cellClass(column: Column, index: number): string | undefined {
  const classes = [
    column.numeric ? "num" : null,
    column.identifies ? "identifying" : null,
    column.identifies && !COLUMNS[index + 1]?.identifies ? "identifying-last" : null,
  ].filter((c) => c !== null);
  return classes.length > 0 ? classes.join(" ") : undefined;
}

function cellStyle(column: Column, index: number) {
  return column.identifies ? { left: COLUMN_LEFT[index] } : undefined;
}

/**
 * The `scrollLeft` that shows the sorted column beside the identifying ones, or `null` when it is
 * in view already.
 */
export function scrollLeftToReveal(sort: ModeSortKey, scrollLeft: number, viewWidth: number): number | null {
  const index = COLUMNS.findIndex((c) => c.sort === sort);
  const column = COLUMNS[index];
  if (!column || column.identifies) return null;
  const left = COLUMN_LEFT[index]! - IDENTIFYING_WIDTH;
  const right = COLUMN_LEFT[index]! + column.width - viewWidth;
  if (scrollLeft > left) return Math.max(0, left);
  // Its right edge in view, or, where the column is wider than the room beside them, its left edge.
  if (scrollLeft < right) return Math.min(left, right);
  return null;
}

function ariaSort(view: ModeIndexView, column: Column): "ascending" | "descending" | undefined {
  if (column.sort === undefined || column.sort !== view.sort) return undefined;
  return view.order === "asc" ? "ascending" : "descending";
}

export function ModeIndexTable({
  model,
  revision,
  view,
  total,
  settled,
  statisticsMissing,
  effectsMissing,
  label,
  onSort,
}: {
  model: string;
  /** The atlas build the rows are asked of (`?v=`). */
  revision: string;
  view: ModeIndexView;
  /** Rows that pass the filters (from the first page). */
  total: number;
  /** Whether `total` is this view's own (not the previous view's, shown while it loads). */
  settled: boolean;
  /** The server's reason when the atlas has no statistics: those columns show "—" and do not sort. */
  statisticsMissing: string | null;
  /** The server's reason when the atlas did not measure the attention moved: its column shows "—". */
  effectsMissing: string | null;
  /** The table's accessible name. */
  label: string;
  onSort: (key: ModeSortKey) => void;
}) {
  const navigate = useNavigate();
  const scroller = useRef<HTMLDivElement>(null);
  const query = modeIndexQuery(view);

  // A table library whose results React must not memoize: the compiler leaves this component alone.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: OVERSCAN,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items.at(-1)?.index ?? 0;
  const { row, error } = useModeIndexRows(model, revision, query, first, last);

  // Back, Forward and a reload come back to where the table was; another sort or filter starts at the top.
  useScrollMemory({ ready: settled, inner: scroller, onUnknownAddress: () => virtualizer.scrollToOffset(0) });

  // The sorted column in view, when the table is wider than its box.
  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const scrollLeft = scrollLeftToReveal(view.sort, element.scrollLeft, element.clientWidth);
    if (scrollLeft !== null) element.scrollLeft = scrollLeft;
  }, [view.sort]);

  const paddingTop = items[0]?.start ?? 0;
  // The full height from the first render (before the virtualizer has measured its box and picked
  // rows), so that a remembered scroll position is there to restore.
  const paddingBottom = virtualizer.getTotalSize() - (items.at(-1)?.end ?? 0);
  const stats = statisticsMissing === null;
  const effects = effectsMissing === null;
  /** The column's values are missing from this atlas. */
  const absent = (c: Column) => (c.stats === true && !stats) || (c.effects === true && !effects);
  const linkOf = (r: ModeIndexRow) => modePath(model, r.layer, r.head, r.mode, { sign: r.sign, basis: view.basis });

  const openRow = (event: MouseEvent<HTMLTableRowElement>, r: ModeIndexRow | undefined) => {
    // A click anywhere on a row opens its mode; links in it (the mode, the class) go where they say.
    if (!r || (event.target as HTMLElement).closest("a, button")) return;
    navigate(linkOf(r));
  };

  return (
    <>
      {error ? <ErrorNotice message={error.message} /> : null}
      <div className="mode-index-scroll" ref={scroller} tabIndex={0} role="region" aria-label={`${label}, scrollable`}>
        <table
          className="data-table mode-index"
          aria-label={label}
          aria-rowcount={total + 1}
          style={{ width: TABLE_WIDTH }}
        >
          <colgroup>
            {COLUMNS.map((c) => (
              <col key={c.id} style={{ width: c.width }} />
            ))}
          </colgroup>
          <thead>
            <tr aria-rowindex={1}>
              {COLUMNS.map((c, index) => {
                const sortable = c.sort !== undefined && !absent(c);
                const sorted = ariaSort(view, c);
                return (
                  <th
                    key={c.id}
                    scope="col"
                    aria-sort={sortable ? sorted : undefined}
                    className={cellClass(c, index)}
                    style={cellStyle(c, index)}
                  >
                    <div className="th-content">
                      {sortable ? (
                        <button
                          type="button"
                          className="sort-button"
                          title={c.title ? `Sort by ${c.title}` : `Sort by ${c.header}`}
                          onClick={() => onSort(c.sort!)}
                        >
                          {c.header}
                          <span aria-hidden="true" className="sort-arrow">
                            {sorted === "ascending" ? "▲" : sorted === "descending" ? "▼" : "↕"}
                          </span>
                        </button>
                      ) : (
                        <span title={c.title}>{c.header}</span>
                      )}
                      {c.help ? <HelpTip term={c.help} /> : null}
                    </div>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {paddingTop > 0 ? (
              <tr className="spacer" aria-hidden="true">
                <td colSpan={COLUMNS.length} style={{ height: paddingTop }} />
              </tr>
            ) : null}
            {items.map((item) => {
              const r = row(item.index);
              if (!r) {
                return (
                  <tr key={item.key} aria-rowindex={item.index + 2} aria-busy="true" className="row-pending">
                    <td colSpan={COLUMNS.length}>
                      <span className="muted">loading row {integer(item.index + 1)}…</span>
                    </td>
                  </tr>
                );
              }
              const link = linkOf(r);
              return (
                <tr
                  key={item.key}
                  aria-rowindex={item.index + 2}
                  className={r.active ? undefined : "row-inactive"}
                  onClick={(event) => openRow(event, r)}
                >
                  {COLUMNS.map((c, index) => (
                    <td key={c.id} className={cellClass(c, index)} style={cellStyle(c, index)}>
                      {absent(c) ? NOT_COMPUTED : c.cell(r, link)}
                    </td>
                  ))}
                </tr>
              );
            })}
            {paddingBottom > 0 ? (
              <tr className="spacer" aria-hidden="true">
                <td colSpan={COLUMNS.length} style={{ height: paddingBottom }} />
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </>
  );
}
