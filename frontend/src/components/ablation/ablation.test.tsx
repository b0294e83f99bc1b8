import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { ModeAblation } from "../../api/client";
import { AblationView } from "./AblationPanel";

function ablation(overrides: Partial<ModeAblation> = {}): ModeAblation {
  // A 2 × 2 grid and a CLS token: 5 keys.
  return {
    model: "m",
    image: "abc",
    layer: 0,
    head: 1,
    removed: [0, 3],
    keep_top: null,
    query_patch: 1,
    grid: 2,
    prefix_kinds: ["cls"],
    row_before: [0.2, 0.1, 0.1, 0.5, 0.1],
    row_after: [0.2, 0.2, 0.2, 0.2, 0.2],
    patch_before: [
      [0.1, 0.1],
      [0.5, 0.1],
    ],
    patch_after: [
      [0.2, 0.2],
      [0.2, 0.2],
    ],
    moved: [
      [0.05, 0.3],
      [0.0, 0.1],
    ],
    moved_prefix: [0.02],
    mean_moved: 0.1125,
    embedding_cosine: 0.98765,
    has_classifier: true,
    top_before: [{ index: 1, label: "goldfish", before: 0.5, after: 0.1 }],
    top_after: [{ index: 2, label: "shark", before: 0.2, after: 0.6 }],
    random_weights: false,
    note: null,
    ...overrides,
  };
}

describe("what removing modes changed", () => {
  it("draws both rows on the one attention scale and the moved map on a fixed 0–1 scale", () => {
    render(<AblationView ablation={ablation()} imageSrc="x.png" />);
    const before = screen.getByRole("group", { name: /attention probability from .*, before .*N = 5 keys/ });
    const after = screen.getByRole("group", { name: /attention probability from .*, after .*N = 5 keys/ });
    expect(before.textContent).toContain("1/N = 0.2");
    expect(after.textContent).toContain("1/N = 0.2");
    const moved = screen.getByRole("group", { name: /attention moved .*fixed linear scale from 0 to 1/ });
    const ticks = Array.from(moved.querySelectorAll(".heat-legend-tick"), (t) => t.textContent);
    expect(ticks).toEqual(["0.0", "0.5", "1.0"]); // not the map's own maximum (0.3)
    expect(screen.getByText(/This row moved 0\.300 of its attention/)).toBeTruthy();
    expect(
      screen.getByText(/Mean over the query patches: 0\.113\. As a query, the cls token moved 0\.020\./),
    ).toBeTruthy();
    expect(screen.getByText(/Removed 2 modes of L0 H1: M0, M3\./)).toBeTruthy();
  });

  it("lists the classes before and after with both probabilities, or says there is no classifier", () => {
    const { unmount } = render(<AblationView ablation={ablation()} imageSrc="x.png" />);
    const table = screen.getByRole("table", { name: "Top 5 before" });
    expect(within(table).getByText("goldfish")).toBeTruthy();
    expect(within(table).getByText("50.0 %")).toBeTruthy();
    expect(within(table).getByText("10.0 %")).toBeTruthy();
    expect(screen.getByText(/Cosine between the model's pooled embeddings before and after: 0\.9877/)).toBeTruthy();
    unmount();
    render(
      <AblationView ablation={ablation({ has_classifier: false, top_before: [], top_after: [] })} imageSrc="x.png" />,
    );
    expect(screen.getByText("This checkpoint has no classifier: only its embedding is compared.")).toBeTruthy();
    expect(screen.queryByRole("table")).toBeNull();
  });
});
