import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DemoBadge, demoLabel } from "./DemoBadge";

describe("DemoBadge", () => {
  it("labels random and planted atlases, and nothing else", () => {
    expect(demoLabel({ random_init: true, planted: false })).toMatch(/random weights/);
    expect(demoLabel({ random_init: true, planted: true })).toMatch(/planted/);
    expect(demoLabel({ random_init: false, planted: false })).toBeNull();
    const { container } = render(<DemoBadge model={{ random_init: false, planted: false }} />);
    expect(container.textContent).toBe("");
    render(<DemoBadge model={{ random_init: true, planted: false }} />);
    expect(screen.getByText(/offline demo/)).toBeTruthy();
  });
});
