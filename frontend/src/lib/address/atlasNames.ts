/** How an atlas is named where several are listed: its model id, with its dataset when another served atlas has the same model. */
import type { ModelSummary } from "../../api/client";

/** The dataset part of an atlas slug (`<model slug>__<dataset>`), or null. */
export function slugDataset(slug: string): string | null {
  const at = slug.lastIndexOf("__");
  return at > 0 ? slug.slice(at + 2) : null;
}

export function atlasName(models: readonly ModelSummary[], slug: string, modelId?: string): string {
  const atlas = models.find((m) => m.slug === slug);
  const id = atlas?.model_id ?? modelId ?? slug;
  const shared = models.filter((m) => m.model_id === id).length > 1;
  return shared ? `${id} on ${atlas?.dataset.name ?? slugDataset(slug) ?? "?"}` : id;
}
