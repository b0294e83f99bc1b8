import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import { cosineColor } from "../../lib/charts/color";
import { headGridHeatmap, type HeadGridScaleMode, headGridTable } from "../../lib/charts/headGrid";
import { downloadCsv } from "../../test/downloads";
import { HeadGrid } from "./HeadGrid";

const VALUES = [
  [0.5, 0.1],
  [-0.2, 0.123456789],
];
const TITLE = "weighted cosine per head";

function renderGrid(scaleMode: HeadGridScaleMode = "fixed") {
  return render(
    <MemoryRouter>
      <HeadGrid
        values={VALUES}
        hrefFor={(l, h) => `/m/x/L${l}/H${h}`}
        title={TITLE}
        fileName={["planted__shapes", "head-grid"]}
        context={{ model: "planted/shapes" }}
        scaleMode={scaleMode}
      />
    </MemoryRouter>,
  );
}

describe("HeadGrid", () => {
  it("links every head with its value as the accessible name", () => {
    renderGrid();
    const cell = screen.getByRole("link", { name: "L1 H0, weighted cosine -0.200" });
    expect(cell.getAttribute("href")).toBe("/m/x/L1/H0");
    expect(screen.getAllByRole("link")).toHaveLength(4);
  });

  it("keeps one cell in the tab order and moves focus with the arrow keys", () => {
    renderGrid();
    const first = screen.getByRole("link", { name: /^L0 H0/ });
    expect(first.tabIndex).toBe(0);
    expect(screen.getByRole("link", { name: /^L1 H1/ }).tabIndex).toBe(-1);
    first.focus();
    fireEvent.keyDown(first, { key: "ArrowDown" });
    const below = screen.getByRole("link", { name: /^L1 H0/ });
    expect(document.activeElement).toBe(below);
    expect(below.tabIndex).toBe(0);
    expect(screen.getByText("L1 H0").closest("p")?.textContent).toContain("-0.200");
  });

  it("is a captioned figure with the PNG and CSV buttons", () => {
    renderGrid();
    expect(screen.getByRole("figure").querySelector("figcaption")?.textContent).toBe(TITLE);
    const group = screen.getByRole("group", { name: `Download “${TITLE}”` });
    expect(within(group).getByRole("button", { name: "Download PNG" })).toBeTruthy();
    expect(within(group).getByRole("button", { name: "Download CSV" })).toBeTruthy();
  });

  it("downloads one CSV row per head, the model first, values at full precision", async () => {
    renderGrid();
    const { name, text } = await downloadCsv(TITLE);
    expect(name).toBe("qkatlas-planted__shapes-head-grid.csv");
    expect(text.split("\r\n")).toEqual([
      "model,layer,head,weighted cosine",
      "planted/shapes,0,0,0.5",
      "planted/shapes,0,1,0.1",
      "planted/shapes,1,0,-0.2",
      "planted/shapes,1,1,0.123456789",
      "",
    ]);
  });
});

describe("head grid export data", () => {
  it("has one row per (layer, head), layer by layer", () => {
    expect(headGridTable([[1, 2, 3]]).rows).toEqual([
      [0, 0, 1],
      [0, 1, 2],
      [0, 2, 3],
    ]);
    expect(headGridTable([]).rows).toEqual([]);
  });

  it("colours the PNG's cells exactly as the grid on screen, with its labels and scale", () => {
    renderGrid("stretch");
    const heatmap = headGridHeatmap(VALUES, "stretch");
    expect(heatmap.rowLabels).toEqual(["L0", "L1"]);
    expect(heatmap.columnLabels).toEqual(["H0", "H1"]);
    expect(heatmap.legend.min).toBe("−0.50");
    expect(heatmap.legend.max).toBe("+0.50");
    expect(heatmap.legend.label).toContain("stretched to this model's largest |value|");
    VALUES.forEach((row, layer) =>
      row.forEach((value, head) => {
        const cell = screen.getByRole("link", { name: new RegExp(`^L${layer} H${head},`) });
        expect(heatmap.colour(value)).toBe(cell.style.background);
      }),
    );
  });
});

describe("HeadGrid colour scale", () => {
  it("is fixed from −1 to +1 by default: a cell's colour is its cosine's on the [−1, 1] ramp", () => {
    renderGrid();
    const legend = screen.getByRole("group", { name: "Colour legend" });
    expect(legend.textContent).toContain("−1.00");
    expect(legend.textContent).toContain("+1.00");
    expect(legend.textContent).toContain("fixed scale, the same for every model");
    const cell = screen.getByRole("link", { name: /^L0 H0,/ });
    // 0.5 sits halfway to the top of [−1, 1].
    expect(cell.style.background).toBe(cosineColor(0.5));
    expect(headGridHeatmap(VALUES, "fixed").legend.max).toBe("+1.00");
  });

  it("stretched, runs to the model's largest |value|, so that value takes the end colour", () => {
    renderGrid("stretch");
    const legend = screen.getByRole("group", { name: "Colour legend" });
    expect(legend.textContent).toContain("+0.50");
    expect(screen.getByRole("link", { name: /^L0 H0,/ }).style.background).toBe(cosineColor(1));
    expect(screen.getByRole("link", { name: /^L1 H0,/ }).style.background).toBe(cosineColor(-0.4));
  });
});

describe("HeadGrid with inactive heads", () => {
  const WITH_INACTIVE = [
    [0.5, null],
    [-0.2, 0.1],
  ];

  function renderWithInactive() {
    return render(
      <MemoryRouter>
        <HeadGrid
          values={WITH_INACTIVE}
          hrefFor={(l, h) => `/m/x/L${l}/H${h}`}
          title={TITLE}
          fileName={["x"]}
          scaleMode="stretch"
        />
      </MemoryRouter>,
    );
  }

  it("hatches an inactive head and names it inactive, never as a cosine of 0", () => {
    renderWithInactive();
    const cell = screen.getByRole("link", { name: "L0 H1, inactive (σ = 0)" });
    expect(cell.getAttribute("href")).toBe("/m/x/L0/H1");
    expect(cell.getAttribute("title")).toBe("L0 H1: inactive (σ = 0)");
    expect(cell.classList.contains("head-cell-inactive")).toBe(true);
    expect(cell.style.background).toBe("");
    fireEvent.mouseEnter(cell);
    expect(screen.getByText("L0 H1").closest("p")?.textContent).toBe("L0 H1 inactive (σ = 0)");
    // The legend explains the hatching; the colour scale ignores the inactive head.
    expect(screen.getByText("inactive (σ = 0)", { selector: ".cos-legend-label" })).toBeTruthy();
    expect(screen.getByText("−0.50")).toBeTruthy();
  });

  it("leaves the inactive head's value empty in the CSV and hatched in the PNG", async () => {
    renderWithInactive();
    const { text } = await downloadCsv(TITLE);
    expect(text.split("\r\n")[2]).toBe("0,1,");
    const heatmap = headGridHeatmap(WITH_INACTIVE, "stretch");
    expect(heatmap.values[0]).toEqual([0.5, null]);
    expect(heatmap.legend.label).toContain("hatched: inactive (σ = 0)");
    expect(headGridHeatmap(VALUES, "stretch").legend.label).not.toContain("inactive");
  });
});
