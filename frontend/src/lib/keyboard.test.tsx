import { fireEvent, render } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { keyNavAction, useKeyNav, type KeyNavHandlers } from "./keyboard";

const key = (k: string, shiftKey = false) => ({ key: k, shiftKey, altKey: false, ctrlKey: false, metaKey: false });

function Harness({ handlers }: { handlers: KeyNavHandlers }) {
  useKeyNav(handlers);
  return (
    <div>
      <input aria-label="search" type="text" />
      <input aria-label="choice" type="radio" />
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

  it("calls the handler, but not while typing or inside a radio group", () => {
    const next = vi.fn();
    const { getByLabelText } = render(<Harness handlers={{ next }} />);
    fireEvent.keyDown(window, { key: "j" });
    expect(next).toHaveBeenCalledTimes(1);
    fireEvent.keyDown(getByLabelText("search"), { key: "j" });
    fireEvent.keyDown(getByLabelText("choice"), { key: "ArrowRight" });
    expect(next).toHaveBeenCalledTimes(1);
    fireEvent.keyDown(getByLabelText("choice"), { key: "j" });
    expect(next).toHaveBeenCalledTimes(2);
  });
});
