import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { DEFAULT_OVERLAY } from "../lib/overlay";
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
});
