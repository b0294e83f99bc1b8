import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { FLAT_KEY_SALIENCE_NOTE, KeySaliencePanel } from "./KeySaliencePanel";
import { PatchHeatmap } from "./PatchHeatmap";

describe("the key-salience panel", () => {
  it("explains an all-zero key salience instead of drawing a blank map", () => {
    const { container } = render(
      <KeySaliencePanel
        imageSrc="x.png"
        grid={2}
        keySalience={[
          [0, 0],
          [0, 0],
        ]}
      />,
    );
    expect(screen.getByText(FLAT_KEY_SALIENCE_NOTE)).toBeTruthy();
    expect(container.querySelector("svg")).toBeNull();
  });

  it("draws a key salience that varies over the patches", () => {
    render(
      <KeySaliencePanel
        imageSrc="x.png"
        grid={2}
        keySalience={[
          [0, 1],
          [2, 3],
        ]}
      />,
    );
    expect(screen.queryByText(FLAT_KEY_SALIENCE_NOTE)).toBeNull();
    expect(screen.getByRole("group", { name: /Colour scale: key salience.*from 0\.000 to 3\.000/ })).toBeTruthy();
  });
});

describe("an attention row's heat map", () => {
  it("numbers its colour bar in probabilities and marks the uniform level 1/N", () => {
    const { container } = render(
      <PatchHeatmap
        src="x.png"
        alt="row"
        grid={2}
        values={[
          [0.25, 0.25],
          [0.25, 0.25],
        ]}
        legend="attention probability"
        scale={{ kind: "attention", keys: 4 }}
      />,
    );
    const legend = screen.getByRole("group", { name: /uniform level 1\/N = 0\.25 marked, N = 4 keys/ });
    const ticks = Array.from(legend.querySelectorAll(".heat-legend-tick"), (t) => t.textContent);
    expect(ticks).toEqual(["0.063", "1/N = 0.25", "1"]);
    expect(legend.querySelector(".heat-legend-tick-marked")?.textContent).toBe("1/N = 0.25");
    expect(legend.querySelector(".heat-legend-mark")).not.toBeNull();
    // A uniform row is drawn transparent: the image shows through unchanged.
    const fills = Array.from(container.querySelectorAll("svg rect"), (r) => r.getAttribute("fill"));
    expect(fills).toEqual(Array<string>(4).fill("rgba(255, 0, 170, 0.000)"));
  });
});
