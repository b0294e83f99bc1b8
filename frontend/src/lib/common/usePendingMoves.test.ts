import { renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { usePendingMoves } from "./usePendingMoves";

const identity = (state: string) => state;

describe("usePendingMoves", () => {
  it("starts a move from the last move until that move renders (a key pressed before the render)", () => {
    const { result, rerender } = renderHook(({ rendered }) => usePendingMoves(rendered, identity), {
      initialProps: { rendered: "M0 pos" },
    });
    expect(result.current.current()).toBe("M0 pos");
    result.current.moved("M0 neg"); // a toggle click
    expect(result.current.current()).toBe("M0 neg");
    result.current.moved("M1 neg"); // → before the click's render
    rerender({ rendered: "M0 neg" }); // the click renders: the key's move is still pending
    expect(result.current.current()).toBe("M1 neg");
    rerender({ rendered: "M1 neg" });
    expect(result.current.current()).toBe("M1 neg");
  });

  it("forgets pending moves when a state no move led to renders (a link, Back)", () => {
    const { result, rerender } = renderHook(({ rendered }) => usePendingMoves(rendered, identity), {
      initialProps: { rendered: "M0 pos" },
    });
    result.current.moved("M1 pos");
    rerender({ rendered: "M5 pos" });
    expect(result.current.current()).toBe("M5 pos");
  });
});
