import { act, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PROGRESS_POLL_MS } from "../api/useProgress";
import { modelSummary, precomputeJob } from "../test/fixtures";
import { mockApi, renderAt } from "../test/mockApi";

function progressCalls(fetchMock: ReturnType<typeof mockApi>): number {
  return fetchMock.mock.calls.filter(([r]) => new URL((r as Request).url).pathname === "/api/progress").length;
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
});
