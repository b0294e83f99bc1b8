/**
 * Precompute jobs: a panel on Home and a compact indicator in the header while one runs. A job over
 * several models reports one record per model, each carrying the whole job's totals (`job`); the panel
 * lists those models together under one heading, and links each done model to its atlas once served.
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link } from "react-router";
import type { ModelSummary, PrecomputeJob } from "../../api/client";
import { modelsQuery } from "../../api/atlasRevisions";
import { useProgress } from "../../api/useProgress";
import { count, duration, fmt, integer, percent } from "../../lib/common/format";
import { modelPath } from "../../lib/address/paths";

/** How often the model list is asked again while a done model's atlas is not in it, and for how long. */
export const ATLAS_POLL_MS = 3000;
export const ATLAS_WAIT_MS = 120_000;

type JobState = PrecomputeJob["state"];
type JobTotals = NonNullable<PrecomputeJob["job"]>;

/** One job: a single model (`totals` null), or every model of a multi-model job with its totals. */
interface Job {
  totals: JobTotals | null;
  models: [PrecomputeJob, ...PrecomputeJob[]];
}

/** A done model's atlas: served, not listed yet, or still not listed after ATLAS_WAIT_MS. */
type Publication = "served" | "publishing" | "missing";
type Publications = ReadonlyMap<string, Publication>;

const PHASES: Record<PrecomputeJob["phase"], string> = {
  stream: "scoring every image",
  thumbnails: "writing the winners' thumbnails",
};

/** The records grouped by job, in the order received (a job where its first model is). */
function groupByJob(records: PrecomputeJob[]): Job[] {
  const jobs: Job[] = [];
  const byId = new Map<string, Job>();
  for (const record of records) {
    const totals = record.job ?? null;
    const known = totals ? byId.get(totals.id) : undefined;
    if (known) {
      known.models.push(record);
      continue;
    }
    const job: Job = { totals, models: [record] };
    if (totals) byId.set(totals.id, job);
    jobs.push(job);
  }
  return jobs;
}

/** A job runs while any of its models does, or while some wait for others that already finished. */
function jobState(models: PrecomputeJob[]): JobState {
  const states = new Set(models.map((model) => model.state));
  if (states.has("running")) return "running";
  if (states.has("queued")) return states.size === 1 ? "queued" : "running";
  return states.has("failed") ? "failed" : "done";
}

function fraction(done: number, total: number): number {
  return total > 0 ? Math.min(1, done / total) : 0;
}

function jobTitle(job: Job): string {
  const first = job.models[0];
  return job.totals
    ? `${count(job.totals.n_models, "model")} on ${first.dataset}`
    : `${first.model_id} on ${first.dataset}`;
}

function StateBadge({ state }: { state: JobState }) {
  return <span className={`job-state job-state-${state}`}>{state}</span>;
}

function ImageCount({ done, total }: { done: number; total: number }) {
  return (
    <span>
      {integer(done)} / {count(total, "image")} ({percent(fraction(done, total))})
    </span>
  );
}

/** Images/s and the time left, shown only while running and once the job has measured them. */
function Pace({
  running,
  imagesPerSecond,
  etaSeconds,
}: {
  running: boolean;
  imagesPerSecond: number | null;
  etaSeconds: number | null;
}) {
  if (!running) return null;
  return (
    <>
      {imagesPerSecond !== null ? (
        <span>{imagesPerSecond < 10 ? fmt(imagesPerSecond, 1) : integer(imagesPerSecond)} images/s</span>
      ) : null}
      {etaSeconds !== null ? <span>about {duration(etaSeconds)} left</span> : null}
    </>
  );
}

/**
 * Each done model's atlas, by slug (none until the model list has loaded). The service lists a newly
 * published atlas within seconds, so while one is missing the list (the cache entry Home shows) is
 * asked again, for at most ATLAS_WAIT_MS after the missing atlases last changed.
 */
function usePublications(records: PrecomputeJob[]): Publications {
  const done = records.filter((record) => record.state === "done").map((record) => record.slug);
  const [givenUp, setGivenUp] = useState<ReadonlySet<string>>(() => new Set());
  const awaited = (served: ModelSummary[] | undefined) =>
    done.filter((slug) => !givenUp.has(slug) && !served?.some((model) => model.slug === slug));
  const models = useQuery({
    ...modelsQuery,
    // Only this observer polls; the others (Home's cards) read the same entry.
    refetchInterval: (query) => (awaited(query.state.data).length > 0 ? ATLAS_POLL_MS : false),
  });
  // Slugs are URL-safe: joined, they key the timer by the set of atlases awaited.
  const waiting = models.isPending ? "" : awaited(models.data).join(" ");
  useEffect(() => {
    if (!waiting) return;
    const timer = setTimeout(() => setGivenUp((before) => new Set([...before, ...waiting.split(" ")])), ATLAS_WAIT_MS);
    return () => clearTimeout(timer);
  }, [waiting]);
  if (models.isPending) return new Map();
  const served = new Set(models.data?.map((model) => model.slug));
  return new Map(
    done.map((slug) => [slug, served.has(slug) ? "served" : givenUp.has(slug) ? "missing" : "publishing"]),
  );
}

/** A link to a done model's atlas, or why there is none yet. */
function AtlasLink({ slug, label, publication }: { slug: string; label: string; publication: Publication }) {
  if (publication === "served") {
    return (
      <p className="job-atlas">
        <Link to={modelPath(slug)}>
          Open the atlas<span className="visually-hidden"> of {label}</span>
        </Link>
      </p>
    );
  }
  return (
    <p className="job-atlas muted">
      {publication === "publishing" ? (
        "publishing… (the service lists it within seconds)"
      ) : (
        <>
          not served yet: check <code>/api/health</code>
        </>
      )}
    </p>
  );
}

/**
 * One model: its state, progress, pace, when it failed why, and once done its atlas. Queued models
 * wait, without a bar.
 */
function ModelRow({
  model,
  label,
  publication,
}: {
  model: PrecomputeJob;
  label: string;
  publication: Publication | undefined;
}) {
  const queued = model.state === "queued";
  return (
    <li className={`job job-${model.state}`}>
      <div className="job-title">
        <strong>{label}</strong>
        <StateBadge state={model.state} />
      </div>
      {queued ? null : (
        <progress value={model.done} max={Math.max(model.total, 1)} aria-label={`${label}: ${PHASES[model.phase]}`} />
      )}
      <p className="job-facts">
        {queued ? (
          <span>waiting to start</span>
        ) : (
          <>
            <span>{PHASES[model.phase]}</span>
            <ImageCount done={model.done} total={model.total} />
          </>
        )}
        <Pace
          running={model.state === "running"}
          imagesPerSecond={model.images_per_second}
          etaSeconds={model.eta_seconds}
        />
      </p>
      {model.state === "failed" && model.message ? <p className="job-message">{model.message}</p> : null}
      {publication ? <AtlasLink slug={model.slug} label={label} publication={publication} /> : null}
    </li>
  );
}

/** A multi-model job: the whole job's progress under a heading, then the list of its models. */
function MultiModelJob({ job, totals, atlases }: { job: Job; totals: JobTotals; atlases: Publications }) {
  const headingId = useId();
  const state = jobState(job.models);
  const title = jobTitle(job);
  const failed = job.models.filter((model) => model.state === "failed").length;
  return (
    <li className={`job job-group job-${state}`}>
      <div className="job-title">
        <h3 id={headingId}>{title}</h3>
        <StateBadge state={state} />
      </div>
      <progress value={totals.done} max={Math.max(totals.total, 1)} aria-label={`${title}: images scored`} />
      <p className="job-facts">
        <span>
          {integer(totals.models_done)} of {count(totals.n_models, "model")} done
          {failed > 0 ? `, ${integer(failed)} failed` : ""}
        </span>
        <ImageCount done={totals.done} total={totals.total} />
        <Pace
          running={state === "running"}
          imagesPerSecond={totals.images_per_second}
          etaSeconds={totals.eta_seconds}
        />
      </p>
      <ul className="job-list job-models" aria-labelledby={headingId}>
        {job.models.map((model) => (
          <ModelRow key={model.slug} model={model} label={model.model_id} publication={atlases.get(model.slug)} />
        ))}
      </ul>
    </li>
  );
}

function JobEntry({ job, atlases }: { job: Job; atlases: Publications }) {
  if (job.totals) return <MultiModelJob job={job} totals={job.totals} atlases={atlases} />;
  const model = job.models[0];
  return <ModelRow model={model} label={jobTitle(job)} publication={atlases.get(model.slug)} />;
}

/** Home: every job reported in the last hour; nothing at all when there is none. */
export function ProgressPanel() {
  const records = useProgress();
  const atlases = usePublications(records);
  const jobs = groupByJob(records);
  if (jobs.length === 0) return null;
  const running = jobs.filter((job) => jobState(job.models) === "running").length;
  return (
    <section aria-labelledby="progress-heading" className="progress-panel">
      <h2 id="progress-heading">Precompute jobs</h2>
      <p className="muted" role="status">
        {running > 0 ? `${integer(running)} running` : "None running"}; reports of the last hour.
      </p>
      <ul className="job-list">
        {jobs.map((job) => (
          <JobEntry key={job.totals?.id ?? job.models[0].slug} job={job} atlases={atlases} />
        ))}
      </ul>
    </section>
  );
}

/** "Precompute 42 %", or "Precompute 42 % · 3/13 models" for a multi-model job. */
function indicatorText({ totals, models }: Job): string {
  if (!totals) return `Precompute ${percent(fraction(models[0].done, models[0].total))}`;
  const done = percent(fraction(totals.done, totals.total));
  return `Precompute ${done} · ${integer(totals.models_done)}/${count(totals.n_models, "model")}`;
}

/** Header: the first running job's progress (and how many more run), linking to Home. */
export function ProgressIndicator() {
  const running = groupByJob(useProgress()).filter((job) => jobState(job.models) === "running");
  const first = running[0];
  if (!first) return null;
  const more = running.length > 1 ? ` (+${running.length - 1})` : "";
  const model = first.models[0];
  const title = first.totals ? jobTitle(first) : `${model.model_id}: ${PHASES[model.phase]}`;
  return (
    <Link to="/" className="progress-indicator" title={title}>
      <span className="spinner" aria-hidden="true" />
      {indicatorText(first)}
      {more}
    </Link>
  );
}
