import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useDebouncedDraft } from "./useDebouncedDraft";

const DELAY_MS = 250;
const FROM_URL = { opacity: 1, blend: 0.5 };

function renderDraft(committed = FROM_URL) {
  const commit = vi.fn();
  const hook = renderHook(({ value }) => useDebouncedDraft(value, commit, DELAY_MS), {
    initialProps: { value: committed },
  });
  const edit = (change: Partial<typeof FROM_URL>) => act(() => hook.result.current[1](change));
  const wait = (ms: number) => act(() => vi.advanceTimersByTime(ms));
  return { hook, commit, edit, wait, draft: () => hook.result.current[0] };
}

describe("useDebouncedDraft", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("shows an edit at once and writes the last one once it rests", () => {
    const { commit, edit, wait, draft } = renderDraft();
    edit({ opacity: 0.2 });
    wait(DELAY_MS - 50);
    edit({ opacity: 0.1 });
    expect(draft()).toEqual({ opacity: 0.1, blend: 0.5 });
    wait(DELAY_MS - 50);
    expect(commit).not.toHaveBeenCalled();
    wait(50);
    expect(commit).toHaveBeenCalledTimes(1);
    expect(commit).toHaveBeenCalledWith({ opacity: 0.1, blend: 0.5 });
  });

  it("writes two fields edited in quick succession together, losing neither", () => {
    const { commit, edit, wait } = renderDraft();
    edit({ opacity: 0 });
    wait(100);
    edit({ blend: 1 });
    wait(DELAY_MS);
    expect(commit).toHaveBeenCalledTimes(1);
    expect(commit).toHaveBeenCalledWith({ opacity: 0, blend: 1 });
  });

  it("moves only the field a value from outside changed, keeping the other's unwritten edit", () => {
    const { hook, commit, edit, wait, draft } = renderDraft();
    edit({ blend: 1 });
    // The URL now says opacity 0 (e.g. Back), before the edit of the brightness was written.
    hook.rerender({ value: { ...FROM_URL, opacity: 0 } });
    expect(draft()).toEqual({ opacity: 0, blend: 1 });
    wait(DELAY_MS);
    expect(commit).toHaveBeenCalledTimes(1);
    expect(commit).toHaveBeenCalledWith({ opacity: 0, blend: 1 });
  });

  it("writes nothing when the draft is back at the committed value, or when only the committed value moved", () => {
    const { hook, commit, edit, wait, draft } = renderDraft();
    edit({ opacity: 0.3 });
    edit({ opacity: 1 });
    wait(DELAY_MS);
    hook.rerender({ value: { opacity: 0.7, blend: 0.5 } });
    expect(draft()).toEqual({ opacity: 0.7, blend: 0.5 });
    wait(DELAY_MS);
    expect(commit).not.toHaveBeenCalled();
  });
});
