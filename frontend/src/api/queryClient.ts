/**
 * The dashboard's one QueryClient. A build of an atlas never changes, so what the API answered stays
 * fresh for the whole visit (each resource is requested once) until the model list shows the atlas
 * rebuilt (atlasRevisions.ts); the progress of precompute jobs polls on its own schedule (useProgress),
 * and the model list is asked again as they publish atlases. Failures are shown at once, not retried,
 * except a busy server's (503 with `Retry-After`: the upload analysis queue is full), which is asked
 * again after the seconds it gave, while the page says so (Status.tsx).
 */
import { QueryClient, type QueryClientConfig } from "@tanstack/react-query";
import { ApiError } from "./queries";

/** How many times a busy answer is retried before it is shown as the error. */
export const BUSY_RETRIES = 20;

function retryBusy(failureCount: number, error: Error): boolean {
  return error instanceof ApiError && error.busy && failureCount <= BUSY_RETRIES;
}

function busyDelayMs(_failureCount: number, error: Error): number {
  return error instanceof ApiError ? Math.max(1, error.retryAfterS ?? 1) * 1000 : 1000;
}

export function createQueryClient(config: QueryClientConfig = {}): QueryClient {
  return new QueryClient({
    ...config,
    defaultOptions: {
      ...config.defaultOptions,
      queries: {
        staleTime: Infinity,
        retry: retryBusy,
        retryDelay: busyDelayMs,
        refetchOnWindowFocus: false,
        refetchOnReconnect: false,
        ...config.defaultOptions?.queries,
      },
    },
  });
}
