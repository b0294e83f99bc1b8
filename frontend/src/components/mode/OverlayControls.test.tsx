import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { DEFAULT_OVERLAY } from "../../lib/mode/overlay";
import { OverlayControls } from "./OverlayControls";

describe("OverlayControls", () => {
  it("switches maps and palette at once", () => {
    const onChange = vi.fn();
    render(<OverlayControls value={DEFAULT_OVERLAY} onChange={onChange} />);
    fireEvent.click(screen.getByRole("button", { name: "key" }));
    expect(onChange).toHaveBeenLastCalledWith({ ...DEFAULT_OVERLAY, channel: "key" });
    fireEvent.click(screen.getByRole("button", { name: /colour-blind safe/ }));
    expect(onChange).toHaveBeenLastCalledWith({ ...DEFAULT_OVERLAY, palette: "orange_blue" });
  });

  it.each([
    ["Photo brightness", "blend"],
    ["Map opacity", "opacity"],
  ] as const)("reports the %s once the slider rests, leaving the other option alone", (name, option) => {
    vi.useFakeTimers();
    const onChange = vi.fn();
    render(<OverlayControls value={DEFAULT_OVERLAY} onChange={onChange} />);
    const slider = screen.getByRole("slider", { name });
    fireEvent.change(slider, { target: { value: "0.2" } });
    fireEvent.change(slider, { target: { value: "0.1" } });
    expect(onChange).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(300));
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenCalledWith({ ...DEFAULT_OVERLAY, [option]: 0.1 });
    vi.useRealTimers();
  });

  it("reports both sliders together when one is moved right after the other", () => {
    vi.useFakeTimers();
    const onChange = vi.fn();
    render(<OverlayControls value={DEFAULT_OVERLAY} onChange={onChange} />);
    fireEvent.change(screen.getByRole("slider", { name: "Map opacity" }), { target: { value: "0" } });
    act(() => vi.advanceTimersByTime(100));
    fireEvent.change(screen.getByRole("slider", { name: "Photo brightness" }), { target: { value: "0.3" } });
    act(() => vi.advanceTimersByTime(300));
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenCalledWith({ ...DEFAULT_OVERLAY, opacity: 0, blend: 0.3 });
    vi.useRealTimers();
  });

  it("keeps a slider's unsettled move when the other option changes from outside", () => {
    vi.useFakeTimers();
    const onChange = vi.fn();
    const { rerender } = render(<OverlayControls value={DEFAULT_OVERLAY} onChange={onChange} />);
    fireEvent.change(screen.getByRole("slider", { name: "Photo brightness" }), { target: { value: "0.3" } });
    // The URL now says opacity 0 (e.g. Back), before the brightness has settled.
    rerender(<OverlayControls value={{ ...DEFAULT_OVERLAY, opacity: 0 }} onChange={onChange} />);
    expect((screen.getByRole("slider", { name: "Map opacity" }) as HTMLInputElement).value).toBe("0");
    expect((screen.getByRole("slider", { name: "Photo brightness" }) as HTMLInputElement).value).toBe("0.3");
    act(() => vi.advanceTimersByTime(300));
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenCalledWith({ ...DEFAULT_OVERLAY, opacity: 0, blend: 0.3 });
    vi.useRealTimers();
  });

  it("shows each slider's value in figures beside it", () => {
    const { container } = render(<OverlayControls value={{ ...DEFAULT_OVERLAY, opacity: 0.6 }} onChange={vi.fn()} />);
    const shown = () =>
      [...container.querySelectorAll("label.range")].map((l) => l.querySelector("output")?.textContent);
    expect(shown()).toEqual(["60 %", "100 %"]);
    // The figure follows the slider as it moves, before the value settles.
    fireEvent.change(screen.getByRole("slider", { name: "Photo brightness" }), { target: { value: "0.8" } });
    expect(shown()).toEqual(["60 %", "80 %"]);
  });

  it.each([
    ["both", "red: query map (tokens like u) · cyan: key map (tokens like v) · white: both"],
    ["query", "red: query map (tokens like u) · the key map is hidden"],
    ["key", "cyan: key map (tokens like v) · the query map is hidden"],
  ] as const)("names in its legend only the maps shown (%s)", (channel, legend) => {
    const { container } = render(<OverlayControls value={{ ...DEFAULT_OVERLAY, channel }} onChange={vi.fn()} />);
    expect(container.querySelector(".legend-line")?.textContent?.replace(/\s+/g, " ").trim()).toBe(legend);
  });
});
