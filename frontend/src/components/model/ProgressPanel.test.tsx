import { act, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ModelSummary, PrecomputeJob } from "../../api/client";
import { PROGRESS_POLL_MS } from "../../api/useProgress";
import { jobTotals, modelSummary, precomputeJob } from "../../test/fixtures";
import { mockApi, renderAt } from "../../test/mockApi";
import { ATLAS_POLL_MS, ATLAS_WAIT_MS } from "./ProgressPanel";

function requests(fetchMock: ReturnType<typeof mockApi>, path: string): number {
  return fetchMock.mock.calls.filter(([r]) => new URL((r as Request).url).pathname === path).length;
}

function progressCalls(fetchMock: ReturnType<typeof mockApi>): number {
  return requests(fetchMock, "/api/progress");
}

function modelListCalls(fetchMock: ReturnType<typeof mockApi>): number {
  return requests(fetchMock, "/api/models");
}

/** precomputeJob() once finished. */
function doneJob(overrides: Partial<PrecomputeJob> = {}): PrecomputeJob {
  return precomputeJob({ state: "done", done: 3925, eta_seconds: null, ...overrides });
}

/** The served atlas of a precompute record. */
function atlasOf(record: PrecomputeJob): ModelSummary {
  return modelSummary({ slug: record.slug, model_id: record.model_id });
}

/** One model's record of a multi-model job on imagenette. */
function modelOfJob(modelId: string, overrides: Partial<PrecomputeJob> = {}): PrecomputeJob {
  return precomputeJob({ slug: `${modelId.replace("/", "--")}__imagenette`, model_id: modelId, ...overrides });
}

/** A 3-model job as Redis lists it: the first model done, the second running, the third queued. */
function threeModelJob(totals = jobTotals()): PrecomputeJob[] {
  return [
    modelOfJob("facebook/dino-vits16", { state: "done", done: 3925, eta_seconds: null, job: totals }),
    modelOfJob("facebook/dino-vitb16", { job: totals }),
    modelOfJob("openai/clip-vit-base-patch16", {
      state: "queued",
      done: 0,
      images_per_second: null,
      eta_seconds: null,
      job: totals,
    }),
  ];
}

function showProgress(jobs: PrecomputeJob[], models: ModelSummary[] = [modelSummary()]) {
  const fetchMock = mockApi({
    "/api/models": { body: models },
    "/api/progress": { body: { redis: "ok", jobs } },
  });
  renderAt("/");
  return fetchMock;
}

describe("precompute progress", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows a running job on Home and in the header, and polls until it is done", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let job = precomputeJob();
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      "/api/progress": () => ({ body: { redis: "ok", jobs: [job] } }),
    });
    renderAt("/");
    expect(await screen.findByRole("heading", { name: "Precompute jobs" })).toBeTruthy();
    expect(screen.getByText("facebook/dino-vits16 on imagenette")).toBeTruthy();
    expect(screen.getByText("1,200 / 3,925 images (30.6 %)")).toBeTruthy();
    expect(screen.getByText("85 images/s")).toBeTruthy();
    expect(screen.getByText("about 32 seconds left")).toBeTruthy();
    expect(screen.getByRole("link", { name: /Precompute 30\.6 %/ }).getAttribute("href")).toBe("/");
    expect(screen.getByRole("progressbar", { name: /scoring every image/ })).toBeTruthy();

    job = precomputeJob({ state: "done", phase: "thumbnails", done: 3925, eta_seconds: null });
    await act(() => vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS));
    expect(await screen.findByText("3,925 / 3,925 images (100.0 %)")).toBeTruthy();
    expect(screen.queryByRole("link", { name: /Precompute/ })).toBeNull();
    const calls = progressCalls(fetchMock);
    await act(() => vi.advanceTimersByTimeAsync(5 * PROGRESS_POLL_MS));
    expect(progressCalls(fetchMock)).toBe(calls); // nothing running: no more requests
  });

  it("shows why a job failed", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      "/api/progress": {
        body: { redis: "ok", jobs: [precomputeJob({ state: "failed", message: "empty image source" })] },
      },
    });
    renderAt("/");
    expect(await screen.findByText("empty image source")).toBeTruthy();
    expect(screen.getByText(/None running/)).toBeTruthy();
  });

  it("shows nothing when there is no job", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      "/api/progress": { body: { redis: "ok", jobs: [] } },
    });
    renderAt("/");
    await screen.findByRole("link", { name: "planted-vit" });
    expect(progressCalls(fetchMock)).toBe(1);
    expect(screen.queryByRole("heading", { name: "Precompute jobs" })).toBeNull();
    expect(screen.queryByRole("link", { name: /Precompute/ })).toBeNull();
  });

  it("lists every model of a multi-model job under one heading, in the order received", async () => {
    showProgress(threeModelJob());
    const heading = await screen.findByRole("heading", { level: 3, name: "3 models on imagenette" });
    const job = heading.closest("li")!;
    expect(within(job).getByText("1 of 3 models done")).toBeTruthy();
    expect(within(job).getByText("5,125 / 11,775 images (43.5 %)")).toBeTruthy();
    const jobBar = screen.getByRole("progressbar", { name: "3 models on imagenette: images scored" });
    expect([jobBar.getAttribute("value"), jobBar.getAttribute("max")]).toEqual(["5125", "11775"]);
    expect(screen.getByText(/^1 running;/)).toBeTruthy();

    const rows = within(screen.getByRole("list", { name: "3 models on imagenette" })).getAllByRole("listitem");
    expect(rows.map((row) => within(row).getByText(/\//, { selector: "strong" }).textContent)).toEqual([
      "facebook/dino-vits16",
      "facebook/dino-vitb16",
      "openai/clip-vit-base-patch16",
    ]);
    const [done, running, queued] = rows as [HTMLElement, HTMLElement, HTMLElement];
    expect(within(done).getByText("done")).toBeTruthy();
    expect(within(done).getByText("3,925 / 3,925 images (100.0 %)")).toBeTruthy();
    expect(within(done).queryByText(/images\/s|left/)).toBeNull();
    expect(within(running).getByText("running")).toBeTruthy();
    expect(
      within(running).getByRole("progressbar", { name: "facebook/dino-vitb16: scoring every image" }),
    ).toBeTruthy();
    expect(within(running).getByText("1,200 / 3,925 images (30.6 %)")).toBeTruthy();
    expect(within(running).getByText("85 images/s")).toBeTruthy();
    expect(within(running).getByText("about 32 seconds left")).toBeTruthy();
    // Waiting, not running at 0 %.
    expect(within(queued).getByText("queued")).toBeTruthy();
    expect(within(queued).getByText("waiting to start")).toBeTruthy();
    expect(within(queued).queryByRole("progressbar")).toBeNull();
    expect(within(queued).queryByText(/%/)).toBeNull();
  });

  it("shows the whole job's pace and time left while it runs, and neither once it is done", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let jobs = threeModelJob();
    mockApi({
      "/api/models": { body: [modelSummary()] },
      "/api/progress": () => ({ body: { redis: "ok", jobs } }),
    });
    renderAt("/");
    const heading = await screen.findByRole("heading", { level: 3, name: "3 models on imagenette" });
    const facts = within(heading.closest("li")!).getByText("1 of 3 models done").parentElement!;
    expect(within(facts).getByText("170 images/s")).toBeTruthy();
    expect(within(facts).getByText("about 2 hours left")).toBeTruthy();

    const finished = jobTotals({ models_done: 3, done: 11775, eta_seconds: null });
    jobs = jobs.map((model) => ({ ...model, state: "done", done: 3925, eta_seconds: null, job: finished }));
    await act(() => vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS));
    expect(await screen.findByText("3 of 3 models done")).toBeTruthy();
    expect(screen.queryByText(/images\/s/)).toBeNull();
    expect(screen.queryByText(/left$/)).toBeNull();
    expect(screen.getByText(/None running/)).toBeTruthy();
  });

  it("shows which model of a job failed, and why", async () => {
    const totals = jobTotals({ n_models: 2, models_done: 1, done: 5125, total: 7850, eta_seconds: null });
    showProgress([
      modelOfJob("facebook/dino-vits16", { state: "done", done: 3925, eta_seconds: null, job: totals }),
      modelOfJob("facebook/dino-vitb16", { state: "failed", message: "CUDA out of memory", job: totals }),
    ]);
    const heading = await screen.findByRole("heading", { level: 3, name: "2 models on imagenette" });
    expect(within(heading.closest("li")!).getByText("1 of 2 models done, 1 failed")).toBeTruthy();
    const failed = within(screen.getByRole("list", { name: "2 models on imagenette" }))
      .getAllByRole("listitem")
      .find((row) => within(row).queryByText("facebook/dino-vitb16"))!;
    expect(within(failed).getByText("failed")).toBeTruthy();
    expect(within(failed).getByText("CUDA out of memory")).toBeTruthy();
    expect(screen.getAllByText("CUDA out of memory")).toHaveLength(1);
    expect(screen.getByText(/None running/)).toBeTruthy();
  });

  it("shows a single-model job next to a multi-model one as before: one row, no job heading", async () => {
    const single = precomputeJob({ slug: "planted__shapes", model_id: "planted-vit", dataset: "shapes" });
    showProgress([single, ...threeModelJob()]);
    await screen.findByRole("heading", { level: 3, name: "3 models on imagenette" });
    const panel = screen.getByRole("region", { name: "Precompute jobs" });
    expect(
      within(panel)
        .getAllByRole("heading", { level: 3 })
        .map((h) => h.textContent),
    ).toEqual(["3 models on imagenette"]);
    const [jobList] = within(panel).getAllByRole("list");
    const [row, group] = [...jobList!.children] as HTMLElement[]; // one entry per job
    expect(within(row!).getByText("planted-vit on shapes")).toBeTruthy();
    expect(within(group!).getByRole("heading", { name: "3 models on imagenette" })).toBeTruthy();
    expect(within(row!).getByRole("progressbar", { name: "planted-vit on shapes: scoring every image" })).toBeTruthy();
    expect(within(row!).getByText("1,200 / 3,925 images (30.6 %)")).toBeTruthy();
    expect(within(row!).getByText("about 32 seconds left")).toBeTruthy();
    expect(screen.getByText(/^2 running;/)).toBeTruthy();
    // The header shows the first job received, and how many more run.
    expect(screen.getByRole("link", { name: "Precompute 30.6 % (+1)" })).toBeTruthy();
  });

  it("shows the whole job's percentage and models done in the header", async () => {
    showProgress(threeModelJob(jobTotals({ n_models: 13, models_done: 3, done: 42, total: 100 })));
    const indicator = await screen.findByRole("link", { name: "Precompute 42.0 % · 3/13 models" });
    expect(indicator.getAttribute("href")).toBe("/");
    expect(indicator.getAttribute("title")).toBe("13 models on imagenette");
  });

  it("keeps asking while a job's next models are queued between two groups", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const totals = jobTotals({ n_models: 2, models_done: 1, done: 3925, total: 7850, images_per_second: null });
    const fetchMock = showProgress([
      modelOfJob("facebook/dino-vits16", { state: "done", done: 3925, eta_seconds: null, job: totals }),
      modelOfJob("facebook/dino-vitb16", { state: "queued", done: 0, eta_seconds: null, job: totals }),
    ]);
    expect(await screen.findByRole("link", { name: "Precompute 50.0 % · 1/2 models" })).toBeTruthy();
    const calls = progressCalls(fetchMock);
    await act(() => vi.advanceTimersByTimeAsync(2 * PROGRESS_POLL_MS));
    expect(progressCalls(fetchMock)).toBe(calls + 2);
  });
});

describe("links to the atlases of done jobs", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const publishing = "publishing… (the service lists it within seconds)";

  it("links a done job to its atlas when the service lists it", async () => {
    const job = doneJob();
    const fetchMock = showProgress([job], [modelSummary(), atlasOf(job)]);
    const link = await screen.findByRole("link", { name: "Open the atlas of facebook/dino-vits16 on imagenette" });
    expect(link.getAttribute("href")).toBe("/m/facebook--dino-vits16__imagenette");
    expect(screen.queryByText(publishing)).toBeNull();
    expect(modelListCalls(fetchMock)).toBe(1); // done before the page opened: the list is asked once
  });

  it("says a done job is being published, and links it once the model list has it", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const job = doneJob();
    let models = [modelSummary()];
    const fetchMock = mockApi({
      "/api/models": () => ({ body: models }),
      "/api/progress": { body: { redis: "ok", jobs: [job] } },
    });
    renderAt("/");
    expect(await screen.findByText(publishing)).toBeTruthy();
    expect(screen.queryByRole("link", { name: /^Open the atlas/ })).toBeNull();
    const calls = modelListCalls(fetchMock);
    await act(() => vi.advanceTimersByTimeAsync(ATLAS_POLL_MS));
    expect(modelListCalls(fetchMock)).toBe(calls + 1);
    expect(screen.getByText(publishing)).toBeTruthy();

    models = [modelSummary(), atlasOf(job)];
    await act(() => vi.advanceTimersByTimeAsync(ATLAS_POLL_MS));
    const link = await screen.findByRole("link", { name: /^Open the atlas/ });
    expect(link.getAttribute("href")).toBe("/m/facebook--dino-vits16__imagenette");
    expect(screen.queryByText(publishing)).toBeNull();
    expect(screen.getByRole("link", { name: "facebook/dino-vits16" })).toBeTruthy(); // Home's card, same list
    const listed = modelListCalls(fetchMock);
    await act(() => vi.advanceTimersByTimeAsync(5 * ATLAS_POLL_MS));
    expect(modelListCalls(fetchMock)).toBe(listed); // listed: no more requests
  });

  it("stops asking for the model list after a while, and says where to look", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const fetchMock = showProgress([doneJob()]);
    expect(await screen.findByText(publishing)).toBeTruthy();
    await act(() => vi.advanceTimersByTimeAsync(ATLAS_WAIT_MS));
    expect(screen.getByText(/^not served yet/).textContent).toBe("not served yet: check /api/health");
    expect(screen.queryByText(publishing)).toBeNull();
    const calls = modelListCalls(fetchMock);
    await act(() => vi.advanceTimersByTimeAsync(5 * ATLAS_POLL_MS));
    expect(modelListCalls(fetchMock)).toBe(calls);
  });

  it("links no job that is running, queued or failed, even when its atlas is served", async () => {
    const jobs = [
      precomputeJob(),
      precomputeJob({ slug: "planted__shapes", model_id: "planted-vit", dataset: "shapes", state: "queued" }),
      precomputeJob({ slug: "other__shapes", model_id: "other-vit", state: "failed", message: "killed" }),
    ];
    showProgress(jobs, jobs.map(atlasOf));
    await screen.findByRole("link", { name: "planted-vit" }); // the model list has loaded
    expect(screen.queryByRole("link", { name: /^Open the atlas/ })).toBeNull();
    expect(screen.queryByText(publishing)).toBeNull();
  });

  it("links each done model of a multi-model job", async () => {
    const totals = jobTotals({ models_done: 2, done: 9050 });
    const jobs = [
      modelOfJob("facebook/dino-vits16", { state: "done", done: 3925, eta_seconds: null, job: totals }),
      modelOfJob("facebook/dino-vitb16", { state: "done", done: 3925, eta_seconds: null, job: totals }),
      modelOfJob("openai/clip-vit-base-patch16", { job: totals }),
    ];
    showProgress(jobs, jobs.map(atlasOf));
    await screen.findByRole("heading", { level: 3, name: "3 models on imagenette" });
    const rows = within(screen.getByRole("list", { name: "3 models on imagenette" })).getAllByRole("listitem");
    const [first, second, running] = rows as [HTMLElement, HTMLElement, HTMLElement];
    const links = [
      await within(first).findByRole("link", { name: "Open the atlas of facebook/dino-vits16" }),
      within(second).getByRole("link", { name: "Open the atlas of facebook/dino-vitb16" }),
    ];
    expect(links.map((link) => link.getAttribute("href"))).toEqual([
      "/m/facebook--dino-vits16__imagenette",
      "/m/facebook--dino-vitb16__imagenette",
    ]);
    expect(within(running).queryByRole("link")).toBeNull();
  });

  it("asks for the model list again when a job it saw running is done, so Home lists the new atlas", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let job = precomputeJob();
    let models = [modelSummary()];
    const fetchMock = mockApi({
      "/api/models": () => ({ body: models }),
      "/api/progress": () => ({ body: { redis: "ok", jobs: [job] } }),
    });
    renderAt("/");
    await screen.findByRole("link", { name: "planted-vit" });
    expect(modelListCalls(fetchMock)).toBe(1);

    // The job publishes its atlas as it ends.
    job = doneJob();
    models = [modelSummary(), atlasOf(job)];
    await act(() => vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS));
    expect(await screen.findByRole("link", { name: "facebook/dino-vits16" })).toBeTruthy();
    expect(modelListCalls(fetchMock)).toBe(2);
    expect(screen.getByRole("link", { name: /^Open the atlas/ }).getAttribute("href")).toBe(
      "/m/facebook--dino-vits16__imagenette",
    );
  });
});
