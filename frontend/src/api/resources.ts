/**
 * One hook per API resource the pages read: the query (path, parameters, pinning to the atlas
 * revision) is built here only, so every component asking for a resource shares one request and one
 * cache entry, and a page reads it as a `Loadable`. A component that needs more of TanStack Query
 * (a placeholder, polling, `enabled`) spreads the resource's query options (`…Query`) into `useQuery`.
 */
import { useQueries } from "@tanstack/react-query";
import type { Basis, ModelSummary, Sign } from "./client";
import { modelsQuery, pinnedQuery } from "./atlasRevisions";
import { allLoaded, apiQuery, useLoadable } from "./queries";
import { type AblationChoice, ablationQuery } from "../lib/upload/ablation";

/** Every served atlas (`GET /api/models`). */
export function useModels() {
  return useLoadable(modelsQuery);
}

function modelDetailQuery(model: string) {
  return apiQuery("/api/models/{model}", { path: { model } });
}

/** A model's detail: its heads' summaries and spectra. */
export function useModelDetail(model: string) {
  return useLoadable(modelDetailQuery(model));
}

/** The details of several models, once all have loaded (or the first failure). */
export function useModelDetails(models: string[]) {
  return useQueries({ queries: models.map(modelDetailQuery), combine: allLoaded });
}

function o3Query(model: string) {
  return apiQuery("/api/models/{model}/o3", { path: { model } });
}

/** A model's odd-one-out results. */
export function useO3(model: string) {
  return useLoadable(o3Query(model));
}

/** The odd-one-out results of several models, once all have loaded (or the first failure). */
export function useO3s(models: string[]) {
  return useQueries({ queries: models.map(o3Query), combine: allLoaded });
}

/** A head of an atlas build (`summary.revision`, or the build an upload was ranked with) in one basis. */
export function useHead(summary: Pick<ModelSummary, "slug" | "revision">, layer: number, head: number, basis: Basis) {
  return useLoadable(
    pinnedQuery("/api/models/{model}/layers/{layer}/heads/{head}", summary.revision, {
      path: { model: summary.slug, layer, head },
      query: { basis },
    }),
  );
}

/** A signed mode of an atlas build, in one basis: its facts, top images, distribution and classes. */
export function useMode(
  summary: Pick<ModelSummary, "slug" | "revision">,
  position: { layer: number; head: number; mode: number },
  view: { sign: Sign; basis: Basis },
) {
  return useLoadable(
    pinnedQuery("/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}", summary.revision, {
      path: { model: summary.slug, ...position },
      query: { sign: view.sign, basis: view.basis },
    }),
  );
}

/** A signed mode's images sampled across its score distribution, band by band. */
export function useModeSamples(
  summary: Pick<ModelSummary, "slug" | "revision">,
  position: { layer: number; head: number; mode: number },
  view: { sign: Sign; basis: Basis },
) {
  return useLoadable(
    pinnedQuery("/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/samples", summary.revision, {
      path: { model: summary.slug, ...position },
      query: { sign: view.sign, basis: view.basis },
    }),
  );
}

/**
 * The signed modes most similar to one (correlation of their class means) in every served model on the
 * same dataset. Not pinned to the revision: the answer also depends on the other atlases.
 */
export function useSimilarModes(
  model: string,
  position: { layer: number; head: number; mode: number },
  view: { sign: Sign; basis: Basis },
) {
  return useLoadable(
    apiQuery("/api/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/similar", {
      path: { model, ...position },
      query: { sign: view.sign, basis: view.basis },
    }),
  );
}

/** What a search for `q` finds, at most `limit` of each kind. */
export function searchQuery(q: string, limit: number) {
  return apiQuery("/api/search", { query: { q, limit } });
}

export function useSearch(q: string, limit: number) {
  return useLoadable(searchQuery(q, limit));
}

/** One class across every served model: each model's `limit` most selective modes (in `basis`, or each model's default). */
export function useClassAcrossModels(label: string, basis: Basis | undefined, limit: number) {
  return useLoadable(
    apiQuery("/api/classes/{label}", { path: { label }, query: basis ? { basis, limit } : { limit } }),
  );
}

/** Every class of every served dataset with labels, with its image count per dataset. */
export function useClassList() {
  return useLoadable(apiQuery("/api/classes", {}));
}

/** An upload's record, asked again whenever its page opens (uploads expire); none without an id. */
export function useUpload(uploadId: string | undefined) {
  return useLoadable({
    ...apiQuery("/api/uploads/{upload_id}", { path: { upload_id: uploadId ?? "" } }),
    enabled: uploadId !== undefined,
    // An upload expires: ask again whenever its page opens (its time left, whether it is still there).
    staleTime: 0,
  });
}

/** The modes of one head ranked for an upload. */
export function useUploadHeadModes(uploadId: string, model: string, layer: number, head: number, basis: Basis) {
  return useLoadable(
    apiQuery("/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}", {
      path: { upload_id: uploadId, model, layer, head },
      query: { basis },
    }),
  );
}

/** The `limit` modes of a whole model that an upload drives most. */
export function useUploadModelModes(uploadId: string, model: string, basis: Basis, limit: number) {
  return useLoadable(
    apiQuery("/api/uploads/{upload_id}/models/{model}/modes", {
      path: { upload_id: uploadId, model },
      query: { basis, limit },
    }),
  );
}

/** An upload's score for a signed mode of an atlas build, whether it fires, and where it falls in the dataset. */
export function useUploadModeStanding(
  uploadId: string | null,
  summary: Pick<ModelSummary, "slug" | "revision">,
  position: { layer: number; head: number; mode: number },
  view: { sign: Sign; basis: Basis },
) {
  return useLoadable({
    ...pinnedQuery(
      "/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/modes/{mode}/standing",
      summary.revision,
      {
        path: { upload_id: uploadId ?? "", model: summary.slug, ...position },
        query: { sign: view.sign, basis: view.basis },
      },
    ),
    enabled: uploadId !== null,
  });
}

/** One query patch's attention row in an upload, split into the head's modes. */
export function useAttentionSplit(uploadId: string, model: string, layer: number, head: number, patch: number) {
  return useLoadable(
    apiQuery("/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/attention", {
      path: { upload_id: uploadId, model, layer, head },
      query: { query_patch: patch },
    }),
  );
}

/** The upload run with modes of a head removed (`choice`), and what changed (docs/method.md#removing-modes). */
export function useModeAblation(
  uploadId: string,
  model: string,
  layer: number,
  head: number,
  choice: AblationChoice,
  patch: number,
) {
  return useLoadable(
    apiQuery("/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/ablation", {
      path: { upload_id: uploadId, model, layer, head },
      query: { query_patch: patch, ...ablationQuery(choice) },
    }),
  );
}

/** A signed mode of a head, in one basis: where a dataset image's maps are asked for. */
export interface SignedModeAt {
  layer: number;
  head: number;
  mode: number;
  sign: Sign;
  basis: Basis;
}

/** Any dataset image of an atlas build under one signed mode, its maps computed on demand by the service. */
export function useDatasetImageMaps(model: string, revision: string, imageId: string, at: SignedModeAt) {
  return useLoadable(
    pinnedQuery("/api/models/{model}/images/{image_id}/maps", revision, {
      path: { model, image_id: imageId },
      query: { ...at },
    }),
  );
}
