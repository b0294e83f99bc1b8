/**
 * Atlases can be rebuilt while the dashboard is open: the service follows its atlas folder, and a
 * rebuilt atlas gets a new `revision`. Answers about an atlas are cached for the whole visit, so when
 * the model list shows an atlas under a new revision, every cached answer about it is marked stale and
 * the pages showing it ask again (the images they show are addressed by revision, so old and new never
 * mix on one page). The model list is asked again when the tab regains focus, when a precompute job
 * finishes (useProgress), and when an atlas image fails to load, as one addressed by a replaced
 * revision does. Search results and class pages span every atlas: they are asked again whenever an
 * atlas is rebuilt, published or removed.
 */
import { type Query, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";
import { apiQuery, type GetPath } from "./queries";

const MODELS = apiQuery("/api/models");

/** Whether a cached query (keyed `[path, params]`, see `apiQuery`) is about the atlas `slug`. */
function isAbout(slug: string) {
  return (query: Query): boolean => {
    const [path, params] = query.queryKey as readonly [string, { path?: { model?: unknown } } | undefined];
    return path !== MODELS.queryKey[0] && params?.path?.model === slug;
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
  const { data } = useQuery({ ...MODELS, refetchOnWindowFocus: "always" });
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
  return useCallback(() => void queryClient.invalidateQueries({ queryKey: MODELS.queryKey }), [queryClient]);
}
