/** Precompute jobs: a panel on Home and a compact indicator in the header while one runs. */
import { Link } from "react-router";
import type { PrecomputeJob } from "../api/client";
import { useProgress } from "../api/useProgress";
import { duration, percent } from "../lib/format";

const PHASES: Record<PrecomputeJob["phase"], string> = {
  stream: "scoring every image",
  thumbnails: "writing the winners' thumbnails",
};

function fraction(job: PrecomputeJob): number {
  return job.total > 0 ? Math.min(1, job.done / job.total) : 0;
}

function JobRow({ job }: { job: PrecomputeJob }) {
  const label = `${job.model_id} on ${job.dataset}`;
  return (
    <li className={`job job-${job.state}`}>
      <div className="job-title">
        <strong>{label}</strong>
        <span className={`job-state job-state-${job.state}`}>{job.state}</span>
      </div>
      <progress value={job.done} max={Math.max(job.total, 1)} aria-label={`${label}: ${PHASES[job.phase]}`} />
      <p className="job-facts">
        <span>{PHASES[job.phase]}</span>
        <span>
          {job.done.toLocaleString("en")} / {job.total.toLocaleString("en")} images ({percent(fraction(job))})
        </span>
        {job.state === "running" && job.images_per_second !== null ? (
          <span>{job.images_per_second.toFixed(job.images_per_second < 10 ? 1 : 0)} images/s</span>
        ) : null}
        {job.state === "running" && job.eta_seconds !== null ? (
          <span>about {duration(job.eta_seconds)} left</span>
        ) : null}
      </p>
      {job.state === "failed" && job.message ? <p className="job-message">{job.message}</p> : null}
    </li>
  );
}

/** Home: every job reported in the last hour; nothing at all when there is none. */
export function ProgressPanel() {
  const jobs = useProgress();
  if (jobs.length === 0) return null;
  const running = jobs.filter((job) => job.state === "running").length;
  return (
    <section aria-labelledby="progress-heading" className="progress-panel">
      <h2 id="progress-heading">Precompute jobs</h2>
      <p className="muted" role="status">
        {running > 0 ? `${running} running` : "None running"}; reports of the last hour.
      </p>
      <ul className="job-list">
        {jobs.map((job) => (
          <JobRow key={job.slug} job={job} />
        ))}
      </ul>
    </section>
  );
}

/** Header: "Precompute 42 %" while a job runs (the first one, and how many more), linking to Home. */
export function ProgressIndicator() {
  const running = useProgress().filter((job) => job.state === "running");
  const first = running[0];
  if (!first) return null;
  const more = running.length > 1 ? ` (+${running.length - 1})` : "";
  return (
    <Link to="/" className="progress-indicator" title={`${first.model_id}: ${PHASES[first.phase]}`}>
      <span className="spinner" aria-hidden="true" />
      Precompute {percent(fraction(first))}
      {more}
    </Link>
  );
}
