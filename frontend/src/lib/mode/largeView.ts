/**
 * The large view of a mode's top image is part of the page's address (`image=<rank>`, 0-based like
 * the API's ranks), so a link can open it; the rest of the query string (sign, basis, overlay
 * options) is kept as it is.
 */
import { type ModeQuery, modePath, parseIndexParam } from "../address/paths";

export const LARGE_VIEW_PARAM = "image";

/** The rank the address opens in the large view, if it names one of the `count` top images. */
export function largeViewRank(search: URLSearchParams, count: number): number | null {
  const rank = parseIndexParam(search.get(LARGE_VIEW_PARAM));
  return rank !== null && rank < count ? rank : null;
}

/** The address of a signed mode's page with the large view of its top image `rank` open. */
export function topImagePath(
  model: string,
  layer: number,
  head: number,
  mode: number,
  query: ModeQuery,
  rank: number,
): string {
  return `${modePath(model, layer, head, mode, query)}&${LARGE_VIEW_PARAM}=${rank}`;
}

/** The query string with the large view of `rank` open, or closed (`null`). */
export function largeViewSearch(search: URLSearchParams, rank: number | null): string {
  const params = new URLSearchParams(search);
  if (rank === null) params.delete(LARGE_VIEW_PARAM);
  else params.set(LARGE_VIEW_PARAM, String(rank));
  const query = params.toString();
  return query ? `?${query}` : "";
}

/**
 * The history state of a large view opened from its grid (a new history entry): closing it goes
 * back, so that Back after closing does not reopen it.
 */
export const LARGE_VIEW_OPENED = { largeViewOpenedFromGrid: true } as const;

export function openedFromGrid(state: unknown): boolean {
  return typeof state === "object" && state !== null && "largeViewOpenedFromGrid" in state;
}
