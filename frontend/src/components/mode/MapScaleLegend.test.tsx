import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DEFAULT_OVERLAY } from "../../lib/mode/overlay";
import { MapScaleLegend } from "./MapScaleLegend";

function ticks(bar: HTMLElement): string[] {
  return Array.from(bar.querySelectorAll(".heat-legend-tick")).map((t) => t.textContent ?? "");
}

describe("MapScaleLegend", () => {
  it("numbers one bar per map from 0 to the mode's largest value, following the channel", () => {
    const scale = { query: 2.5, key: 0.8 };
    const { rerender } = render(<MapScaleLegend scale={scale} options={DEFAULT_OVERLAY} />);
    const query = screen.getByRole("group", { name: /Colour scale: query map .* red/ });
    const key = screen.getByRole("group", { name: /Colour scale: key map .* cyan/ });
    expect(ticks(query)).toEqual(["≤ 0", "0.63", "1.25", "1.88", "2.50"]);
    expect(ticks(key)).toEqual(["≤ 0", "0.20", "0.40", "0.60", "0.80"]);
    rerender(<MapScaleLegend scale={scale} options={{ ...DEFAULT_OVERLAY, channel: "key", palette: "orange_blue" }} />);
    expect(screen.queryByRole("group", { name: /Colour scale: query map/ })).toBeNull();
    expect(ticks(screen.getByRole("group", { name: /Colour scale: key map .* blue/ }))).toEqual([
      "≤ 0",
      "0.20",
      "0.40",
      "0.60",
      "0.80",
    ]);
  });

  it("draws the bar as the overlay mixes the map colour over the photo", () => {
    render(<MapScaleLegend scale={{ query: 1, key: 1 }} options={{ ...DEFAULT_OVERLAY, opacity: 0.6, blend: 0.5 }} />);
    const bar = screen.getByRole("group", { name: /Colour scale: query map/ }).querySelector(".heat-legend-bar");
    const style = (bar as HTMLElement).style;
    expect(style.backgroundImage).toBe("linear-gradient(to right, rgba(255, 0, 0, 0), rgba(255, 0, 0, 0.6))");
    expect(style.backgroundColor).toBe("rgb(64, 64, 64)");
  });

  it("says so where no image of the mode has a value above 0, and keys the peak outlines", () => {
    render(<MapScaleLegend scale={{ query: 0, key: 1.5 }} options={DEFAULT_OVERLAY} />);
    const query = screen.getByRole("group", { name: /Colour scale: query map/ });
    expect(ticks(query)).toEqual([]);
    expect(within(query).getByText(/no image of this mode has a query value above 0/)).toBeTruthy();
    expect(screen.getByText(/solid box: the query map's highest patch/)).toBeTruthy();
    expect(screen.getByText(/dashed box: the key map's highest patch/)).toBeTruthy();
  });
});
