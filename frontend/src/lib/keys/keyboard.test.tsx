import { fireEvent, render } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { SegmentedControl } from "../../components/ui/SegmentedControl";
import { isShortcutSheetKey, keyNavAction, ownsKey, useKeyNav, type KeyNavHandlers } from "./keyboard";

const key = (k: string, shiftKey = false) => ({ key: k, shiftKey, altKey: false, ctrlKey: false, metaKey: false });

function Harness({ handlers }: { handlers: KeyNavHandlers }) {
  useKeyNav(handlers);
  return (
    <div>
      <input aria-label="search" type="text" />
      <input aria-label="blend" type="range" />
      <input aria-label="choice" type="radio" />
      <select aria-label="layer">
        <option>0</option>
      </select>
      <div data-own-arrows="">
        <a href="#cell" aria-label="cell">
          cell
        </a>
      </div>
      <SegmentedControl
        label="Sign"
        value="pos"
        options={[
          { value: "pos", label: "pos" },
          { value: "neg", label: "neg" },
        ]}
        onChange={() => undefined}
      />
    </div>
  );
}

describe("keyboard navigation", () => {
  it("maps arrows and j/k, with Shift for the outer level", () => {
    expect(keyNavAction(key("j"))).toBe("next");
    expect(keyNavAction(key("k"))).toBe("prev");
    expect(keyNavAction(key("ArrowRight"))).toBe("next");
    expect(keyNavAction(key("ArrowLeft", true))).toBe("prevOuter");
    expect(keyNavAction(key("J", true))).toBe("nextOuter");
    expect(keyNavAction({ ...key("j"), ctrlKey: true })).toBeNull();
    expect(keyNavAction(key("x"))).toBeNull();
  });

  it("steps from a toggle button, but not while typing, on a slider, a select or inside a grid", () => {
    const next = vi.fn();
    const { getByLabelText, getByRole } = render(<Harness handlers={{ next }} />);
    fireEvent.keyDown(window, { key: "j" });
    expect(next).toHaveBeenCalledTimes(1);
    // After a click on a segmented control the focus is on its button: the arrows still step.
    const toggle = getByRole("button", { name: "neg" });
    toggle.focus();
    fireEvent.keyDown(toggle, { key: "ArrowRight" });
    expect(next).toHaveBeenCalledTimes(2);
    // A native radio is no exception either.
    fireEvent.keyDown(getByLabelText("choice"), { key: "ArrowRight" });
    expect(next).toHaveBeenCalledTimes(3);

    fireEvent.keyDown(getByLabelText("search"), { key: "j" });
    fireEvent.keyDown(getByLabelText("search"), { key: "ArrowRight" });
    fireEvent.keyDown(getByLabelText("blend"), { key: "ArrowRight" });
    fireEvent.keyDown(getByLabelText("layer"), { key: "ArrowRight" });
    fireEvent.keyDown(getByLabelText("cell"), { key: "ArrowRight" });
    expect(next).toHaveBeenCalledTimes(3);
    // j is not an arrow: a slider or the grid does not take it.
    fireEvent.keyDown(getByLabelText("blend"), { key: "j" });
    fireEvent.keyDown(getByLabelText("cell"), { key: "j" });
    expect(next).toHaveBeenCalledTimes(5);
  });

  it("leaves an event a control already handled alone", () => {
    const next = vi.fn();
    render(<Harness handlers={{ next }} />);
    const event = new KeyboardEvent("keydown", { key: "ArrowRight", cancelable: true });
    event.preventDefault();
    window.dispatchEvent(event);
    expect(next).not.toHaveBeenCalled();
  });

  it("knows which element owns a key", () => {
    const text = document.createElement("textarea");
    expect(ownsKey(text, "?")).toBe(true);
    const button = document.createElement("button");
    expect(ownsKey(button, "ArrowLeft")).toBe(false);
    expect(ownsKey(null, "ArrowLeft")).toBe(false);
  });

  it("opens the shortcut sheet on ? only, without modifiers", () => {
    expect(isShortcutSheetKey(key("?", true))).toBe(true);
    expect(isShortcutSheetKey({ ...key("?", true), ctrlKey: true })).toBe(false);
    expect(isShortcutSheetKey(key("/"))).toBe(false);
  });
});
