/**
 * Precompute jobs reported through the backend's Redis (`GET /api/progress`), shared by the header
 * indicator and the Home panel. Asked once on load, then every few seconds only while a model is
 * running or queued (a multi-model job queues its next models while it loads them; the tab must be
 * visible); a failed request keeps the last known jobs, and is retried only while one was unfinished.
 * When a model it saw unfinished is done, the model list is asked again: its atlas is being published.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useEffect, useRef } from "react";
import type { PrecomputeJob } from "./client";
import { modelsQuery } from "./atlasRevisions";
import { apiQuery } from "./queries";

export const PROGRESS_POLL_MS = 3000;

const ProgressContext = createContext<PrecomputeJob[]>([]);
const NO_JOBS: PrecomputeJob[] = [];

function unfinished(job: PrecomputeJob): boolean {
  return job.state === "running" || job.state === "queued";
}

/** Polls in one place (the layout), so that the page and the header share one schedule. */
export function ProgressProvider({ children }: { children: ReactNode }) {
  const { data } = useQuery({
    ...apiQuery("/api/progress"),
    // Never stale, so only this interval asks again: while the last answer had a job not yet finished.
    refetchInterval: (query) => (query.state.data?.jobs.some(unfinished) ? PROGRESS_POLL_MS : false),
    refetchIntervalInBackground: false,
  });
  const jobs = data?.jobs ?? NO_JOBS;
  const queryClient = useQueryClient();
  const previous = useRef(NO_JOBS);
  useEffect(() => {
    const wasUnfinished = new Set(previous.current.filter(unfinished).map((job) => job.slug));
    previous.current = jobs;
    if (jobs.some((job) => job.state === "done" && wasUnfinished.has(job.slug))) {
      void queryClient.invalidateQueries({ queryKey: modelsQuery.queryKey });
    }
  }, [jobs, queryClient]);
  return <ProgressContext.Provider value={jobs}>{children}</ProgressContext.Provider>;
}

export function useProgress(): PrecomputeJob[] {
  return useContext(ProgressContext);
}
