/**
 * The mode index's view (sort and filters), kept in the query string so that back/forward, a reload
 * and a shared link restore it. Only what differs from the defaults is written.
 */
import type { Basis, ModeSortKey, Sign, SortOrder } from "../../api/client";
import { MODE_SORT_KEYS, parseEnum, SIGNS, SORT_ORDERS } from "../../api/enums";
import type { GetParams } from "../../api/queries";
import { parseBasis, parseIndexParam } from "../address/paths";

export interface ModeIndexView {
  sort: ModeSortKey;
  order: SortOrder;
  basis: Basis;
  layer: number | null;
  head: number | null;
  sign: Sign | null;
  /** Only degenerate modes (true), only the others (false), or both (null). */
  degenerate: boolean | null;
  /** Only modes that never fire (true), only those that do (false), or both (null). */
  neverFires: boolean | null;
  /** Part of the label of the mode's most selective class; "" for any. */
  topClass: string;
  minSelectivity: number | null;
  /** Only modes that move at least this much attention on average (a fraction, 0 to 1); null for any. */
  minEffect: number | null;
  includeInactive: boolean;
}

export const DEFAULT_MODE_INDEX_VIEW: ModeIndexView = {
  sort: "position",
  order: "asc",
  basis: "faithful",
  layer: null,
  head: null,
  sign: null,
  degenerate: null,
  neverFires: null,
  topClass: "",
  minSelectivity: null,
  minEffect: null,
  includeInactive: false,
};

/** The order a column sorts in on its first click: position ascending, every value largest first. */
export function defaultOrder(sort: ModeSortKey): SortOrder {
  return sort === "position" ? "asc" : "desc";
}

function parseBool(value: string | null): boolean | null {
  return value === "true" ? true : value === "false" ? false : null;
}

function parseNumber(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

export function parseModeIndexView(search: URLSearchParams): ModeIndexView {
  const sort = parseEnum(MODE_SORT_KEYS, search.get("sort"), "position");
  const sign = search.get("sign");
  return {
    sort,
    order: parseEnum(SORT_ORDERS, search.get("order"), defaultOrder(sort)),
    basis: parseBasis(search.get("basis")),
    layer: parseIndexParam(search.get("layer")),
    head: parseIndexParam(search.get("head")),
    sign: SIGNS.find((s) => s === sign) ?? null,
    degenerate: parseBool(search.get("degenerate")),
    neverFires: parseBool(search.get("never_fires")),
    topClass: (search.get("top_class") ?? "").slice(0, 200),
    minSelectivity: parseNumber(search.get("min_selectivity")),
    minEffect: parseNumber(search.get("min_effect")),
    includeInactive: search.get("include_inactive") === "true",
  };
}

/** `?sort=…&…` with what differs from the defaults, in a fixed order; "" for the default view. */
export function modeIndexSearch(view: ModeIndexView): string {
  const params = new URLSearchParams();
  if (view.sort !== "position") params.set("sort", view.sort);
  if (view.order !== defaultOrder(view.sort)) params.set("order", view.order);
  if (view.basis !== "faithful") params.set("basis", view.basis);
  if (view.layer !== null) params.set("layer", String(view.layer));
  if (view.head !== null) params.set("head", String(view.head));
  if (view.sign !== null) params.set("sign", view.sign);
  if (view.degenerate !== null) params.set("degenerate", String(view.degenerate));
  if (view.neverFires !== null) params.set("never_fires", String(view.neverFires));
  if (view.topClass.trim() !== "") params.set("top_class", view.topClass.trim());
  if (view.minSelectivity !== null) params.set("min_selectivity", String(view.minSelectivity));
  if (view.minEffect !== null) params.set("min_effect", String(view.minEffect));
  if (view.includeInactive) params.set("include_inactive", "true");
  const qs = params.toString();
  return qs ? `?${qs}` : "";
}

/** A click on a column's header: the same column flips the order, another sorts by it. */
export function toggleSort(view: ModeIndexView, sort: ModeSortKey): ModeIndexView {
  if (view.sort === sort) return { ...view, order: view.order === "asc" ? "desc" : "asc" };
  return { ...view, sort, order: defaultOrder(sort) };
}

export type ModeIndexQuery = NonNullable<GetParams<"/api/models/{model}/modes">["query"]>;

/** The API's query for the view (without the page's offset and limit). */
export function modeIndexQuery(view: ModeIndexView): ModeIndexQuery {
  const query: ModeIndexQuery = { basis: view.basis, sort: view.sort, order: view.order };
  if (view.layer !== null) query.layer = view.layer;
  if (view.head !== null) query.head = view.head;
  if (view.sign !== null) query.sign = view.sign;
  if (view.degenerate !== null) query.degenerate = view.degenerate;
  if (view.neverFires !== null) query.never_fires = view.neverFires;
  if (view.topClass.trim() !== "") query.top_class = view.topClass.trim();
  if (view.minSelectivity !== null) query.min_selectivity = view.minSelectivity;
  if (view.minEffect !== null) query.min_effect = view.minEffect;
  if (view.includeInactive) query.include_inactive = true;
  return query;
}
