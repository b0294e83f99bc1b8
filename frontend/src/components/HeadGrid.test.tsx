import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import { HeadGrid } from "./HeadGrid";

function renderGrid() {
  return render(
    <MemoryRouter>
      <HeadGrid values={[[0.5, 0.1], [-0.2, 0.3]]} hrefFor={(l, h) => `/m/x/L${l}/H${h}`} />
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
});
