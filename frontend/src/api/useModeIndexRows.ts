/**
 * The rows of a mode index that a window of the table needs, a page at a time: the server sorts and
 * filters, and each page (`MODE_INDEX_PAGE` rows) is one cached query keyed by the view and its
 * offset, pinned to the atlas revision (`pinnedQuery`). The first page is always asked for: it tells
 * how many rows pass the filters.
 */
import { keepPreviousData, useQueries, useQuery } from "@tanstack/react-query";
import type { ModeIndexPage, ModeIndexRow } from "./client";
import { pinnedQuery } from "./atlasRevisions";
import type { ApiError } from "./queries";
import type { ModeIndexQuery } from "../lib/search/modeIndexView";

/** Rows per request (the API allows up to 500). */
export const MODE_INDEX_PAGE = 200;

function pageQuery(model: string, revision: string, query: ModeIndexQuery, page: number) {
  return pinnedQuery("/api/models/{model}/modes", revision, {
    path: { model },
    query: { ...query, offset: page * MODE_INDEX_PAGE, limit: MODE_INDEX_PAGE },
  });
}

/**
 * The first page: the number of rows, the model's signed modes, whether statistics are missing. While
 * another view's first page loads, the last one's stays (`isPlaceholderData`), so the table keeps its
 * header (and the focus on the button that sorted it).
 */
export function useModeIndexHead(model: string, revision: string, query: ModeIndexQuery) {
  const options = pageQuery(model, revision, query, 0);
  return useQuery({
    ...options,
    // Only another view of the same model's index (or of its previous build's, while the new one loads).
    placeholderData: (previous, previousQuery) =>
      previousQuery?.queryKey[1]?.path.model === model ? keepPreviousData(previous) : undefined,
  });
}

/** The pages covering rows `first`…`last` (inclusive), and a row by its position in the sorted table. */
export function useModeIndexRows(
  model: string,
  revision: string,
  query: ModeIndexQuery,
  first: number,
  last: number,
): { row: (index: number) => ModeIndexRow | undefined; error: ApiError | null } {
  const pages: number[] = [];
  for (let p = Math.floor(first / MODE_INDEX_PAGE); p <= Math.floor(last / MODE_INDEX_PAGE); p++) pages.push(p);
  const results = useQueries({ queries: pages.map((p) => pageQuery(model, revision, query, p)) });
  const loaded = new Map<number, ModeIndexPage>();
  let error: ApiError | null = null;
  results.forEach((result, i) => {
    if (result.data) loaded.set(pages[i]!, result.data);
    error ??= result.error;
  });
  return {
    row: (index) => loaded.get(Math.floor(index / MODE_INDEX_PAGE))?.rows[index % MODE_INDEX_PAGE],
    error,
  };
}
