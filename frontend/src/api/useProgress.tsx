/**
 * Precompute jobs reported through the backend's Redis (`GET /api/progress`), shared by the header
 * indicator and the Home panel. Asked once on load, then every few seconds only while a job is
 * running (and the tab is visible); a failed request is retried only while a job was running.
 */
import { createContext, type ReactNode, useContext, useEffect, useState } from "react";
import { api, type PrecomputeJob } from "./client";

export const PROGRESS_POLL_MS = 3000;

const ProgressContext = createContext<PrecomputeJob[]>([]);

export function ProgressProvider({ children }: { children: ReactNode }) {
  const [jobs, setJobs] = useState<PrecomputeJob[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    const poll = async () => {
      if (!document.hidden) {
        try {
          const { data } = await api.GET("/api/progress", { signal: controller.signal });
          if (data) {
            setJobs(data.jobs);
            running = data.jobs.some((job) => job.state === "running");
          }
        } catch {
          // Aborted, or the service is unreachable: keep the last known jobs.
        }
      }
      if (running && !controller.signal.aborted) timer = setTimeout(() => void poll(), PROGRESS_POLL_MS);
    };
    void poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, []);
  return <ProgressContext.Provider value={jobs}>{children}</ProgressContext.Provider>;
}

export function useProgress(): PrecomputeJob[] {
  return useContext(ProgressContext);
}
