import { fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { ThemeToggle } from "./ThemeToggle";

describe("ThemeToggle", () => {
  afterEach(() => {
    localStorage.clear();
    delete document.documentElement.dataset.theme;
  });

  it("says its state in its name, its text and aria-pressed, and switches the page's theme", () => {
    localStorage.setItem("qkatlas-theme", "light");
    render(<ThemeToggle />);
    const toggle = screen.getByRole("button", { name: "Dark mode: off" });
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    expect(document.documentElement.dataset.theme).toBe("light");

    fireEvent.click(toggle);
    expect(screen.getByRole("button", { name: "Dark mode: on" }).getAttribute("aria-pressed")).toBe("true");
    expect(toggle.textContent).toContain("Dark mode: on");
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(localStorage.getItem("qkatlas-theme")).toBe("dark");
  });

  it("starts from the remembered choice", () => {
    localStorage.setItem("qkatlas-theme", "dark");
    render(<ThemeToggle />);
    expect(screen.getByRole("button", { name: "Dark mode: on" }).getAttribute("aria-pressed")).toBe("true");
  });
});
