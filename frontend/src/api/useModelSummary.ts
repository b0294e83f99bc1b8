/** The summary of one served model (small), for pages below the model page. */
import { api, type ModelSummary } from "./client";
import { type Loadable, useApi } from "./useApi";

export function useModelSummary(slug: string): Loadable<ModelSummary> {
  return useApi(async (signal) => {
    const result = await api.GET("/api/models", { signal });
    const found = result.data?.find((m) => m.slug === slug);
    if (result.data && !found) {
      return { error: { detail: `Model ${slug} is not served here.` }, response: new Response(null, { status: 404 }) };
    }
    return { data: found, error: result.error, response: result.response };
  }, [slug]);
}
