/**
 * Atlases can be rebuilt while the dashboard is open: the service follows its atlas folder, and a
 * rebuilt atlas gets a new `revision`. Answers about an atlas are cached for the whole visit. The pages
 * of one atlas ask for its head, modes and mode index at addresses pinned to the revision the model list
 * shows (`pinnedQuery`, `?v=`): the browser and nginx cache those for good, and a new revision is a new
 * address and a new query key, so the pages move to the new build's answers by themselves. Everything
 * else cached about an atlas (its model detail, O3 results, an upload's analyses) is marked stale when the
 * model list shows it under a new revision, and the pages showing it ask again (the images they show are
 * addressed by revision, so old and new never mix on one page). The model list is asked again when the
 * tab regains focus, when a precompute job finishes (useProgress), and when an atlas image or a pinned
 * address fails (404), as one of a replaced revision does. Search results and class pages span every
 * atlas: they are asked again whenever an atlas is rebuilt, published or removed.
 */
import { type Query, queryOptions, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";
import { ApiError, apiGet, apiQuery, type GetData, type GetParams, type GetPath } from "./queries";

/** The model list (`GET /api/models`): every served atlas and its revision. */
export const modelsQuery = apiQuery("/api/models");

/**
 * Whether a cached query (keyed `[path, params]`, see `apiQuery`) is about the atlas `slug` and not
 * pinned to a revision (a pinned answer never changes; the page asks for the new revision's instead).
 */
function isAbout(slug: string) {
  return (query: Query): boolean => {
    const [path, params] = query.queryKey as readonly [
      string,
      { path?: { model?: unknown }; query?: { v?: unknown } } | undefined,
    ];
    return path !== modelsQuery.queryKey[0] && params?.path?.model === slug && params.query?.v == null;
  };
}

/** Answers about every served atlas at once: search and a class across models. */
const ACROSS_MODELS: readonly GetPath[] = ["/api/search", "/api/classes/{label}"];

function isAcrossModels(query: Query): boolean {
  return ACROSS_MODELS.includes(query.queryKey[0] as GetPath);
}

/** Mounted once (in the layout): drops what is cached about an atlas once it was rebuilt. */
export function useAtlasRevisionWatch(): void {
  const queryClient = useQueryClient();
  // "always": the list is never stale otherwise (answers stay fresh for the visit).
  const { data } = useQuery({ ...modelsQuery, refetchOnWindowFocus: "always" });
  const known = useRef<Map<string, string> | null>(null);
  useEffect(() => {
    if (!data) return;
    const before = known.current;
    known.current = new Map(data.map((m) => [m.slug, m.revision]));
    if (before === null) return; // the first list: nothing cached can be older
    for (const model of data) {
      const revision = before.get(model.slug);
      if (revision !== undefined && revision !== model.revision) {
        void queryClient.invalidateQueries({ predicate: isAbout(model.slug) });
      }
    }
    // An atlas rebuilt, published or gone changes what search and the class pages answer.
    const same = before.size === data.length && data.every((m) => before.get(m.slug) === m.revision);
    if (!same) void queryClient.invalidateQueries({ predicate: isAcrossModels });
  }, [data, queryClient]);
}

/** An `onError` for atlas images: an address of a replaced revision fails, so look for a rebuild. */
export function useAtlasImageError(): () => void {
  const queryClient = useQueryClient();
  return useCallback(() => void queryClient.invalidateQueries({ queryKey: modelsQuery.queryKey }), [queryClient]);
}

/** The GET paths about one atlas that take `?v=`, its revision. */
export type PinnablePath = {
  [P in GetPath]: GetParams<P> extends { path: { model: string }; query?: { v?: string | null } } ? P : never;
}[GetPath];

/**
 * The query of `GET path` with `params`, pinned to the atlas build `revision` (the model list's, or
 * one an answer names): `?v=revision`, keyed `[path, params with v]`. Its answer never changes, so the
 * browser and nginx keep it for good, and a rebuilt atlas's new revision is another query. A pinned
 * address of a replaced build answers 404 ("rebuilt … reload the page"): then the model list is asked
 * again before the failure is reported, so a page taking its revision from the list has already moved
 * to the new build's address (and never shows the error); a 404 for another reason stays an error.
 */
export function pinnedQuery<P extends PinnablePath>(path: P, revision: string, params: GetParams<P>) {
  const pinned = { ...params, query: { ...params?.query, v: revision } } as GetParams<P>;
  return queryOptions<GetData<P>, ApiError, GetData<P>, readonly [P, GetParams<P>]>({
    queryKey: [path, pinned] as const,
    queryFn: async ({ client, signal }) => {
      try {
        return await apiGet(path, pinned, signal);
      } catch (error) {
        if (error instanceof ApiError && error.httpStatus === 404) {
          // Fetched whatever its state (shared with a request for it already under way).
          await client.fetchQuery({ ...modelsQuery, staleTime: 0 }).catch(() => undefined);
        }
        throw error;
      }
    },
  });
}
