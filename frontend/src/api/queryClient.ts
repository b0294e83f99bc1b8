/**
 * The dashboard's one QueryClient. A build of an atlas never changes, so what the API answered stays
 * fresh for the whole visit (each resource is requested once) until the model list shows the atlas
 * rebuilt (atlasRevisions.ts); the progress of precompute jobs polls on its own schedule (useProgress),
 * and the model list is asked again as they publish atlases. Failures are shown at once, not retried.
 */
import { QueryClient, type QueryClientConfig } from "@tanstack/react-query";

export function createQueryClient(config: QueryClientConfig = {}): QueryClient {
  return new QueryClient({
    ...config,
    defaultOptions: {
      ...config.defaultOptions,
      queries: {
        staleTime: Infinity,
        retry: false,
        refetchOnWindowFocus: false,
        refetchOnReconnect: false,
        ...config.defaultOptions?.queries,
      },
    },
  });
}
