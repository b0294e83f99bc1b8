/** The summary of one served model (small), for pages below the model page; from the shared model list. */
import type { ModelSummary } from "./client";
import { apiQuery, type Loadable, useLoadable } from "./queries";

export function useModelSummary(slug: string): Loadable<ModelSummary> {
  const models = useLoadable(apiQuery("/api/models"));
  if (models.status !== "ok") return models;
  const found = models.data.find((m) => m.slug === slug);
  return found
    ? { status: "ok", data: found }
    : { status: "error", message: `Model ${slug} is not served here.`, httpStatus: 404 };
}
