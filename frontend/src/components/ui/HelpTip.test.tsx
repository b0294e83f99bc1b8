import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { GLOSSARY } from "../../lib/help/glossary";
import { HelpTip } from "./HelpTip";

describe("HelpTip", () => {
  it("opens the term's definition on click and closes it with Escape, returning the focus", () => {
    render(<HelpTip term="degenerate" />);
    const button = screen.getByRole("button", { name: "What is degenerate?" });
    expect(button.getAttribute("aria-expanded")).toBe("false");
    expect(screen.queryByRole("dialog")).toBeNull();

    fireEvent.click(button);
    const popover = screen.getByRole("dialog", { name: "degenerate" });
    expect(popover.textContent).toContain("within 0.1 % of a neighbour");
    expect(button.getAttribute("aria-expanded")).toBe("true");
    expect(button.getAttribute("aria-controls")).toBe(popover.id);

    fireEvent.keyDown(document, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(button);
  });

  it("closes on a click outside, but not on a click inside", () => {
    render(
      <div>
        <HelpTip term="sigma" />
        <p>elsewhere</p>
      </div>,
    );
    fireEvent.click(screen.getByRole("button", { name: "What is σ?" }));
    fireEvent.pointerDown(screen.getByRole("dialog"));
    expect(screen.getByRole("dialog")).toBeTruthy();
    fireEvent.pointerDown(screen.getByText("elsewhere"));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("toggles closed on a second click", () => {
    render(<HelpTip term="cos" />);
    const button = screen.getByRole("button", { name: "What is cos u·v?" });
    fireEvent.click(button);
    fireEvent.click(button);
    expect(screen.queryByRole("dialog")).toBeNull();
  });
});

describe("glossary", () => {
  it("states the random band and the degenerate tolerance as docs/method.md defines them", () => {
    expect(GLOSSARY.randomBand.text).toContain("±1.96/√d");
    expect(GLOSSARY.degenerate.text).toContain("0.1 %");
    expect(GLOSSARY.contribution.text).toContain("C_n = σ_n · max(pos score, neg score)");
  });
});
