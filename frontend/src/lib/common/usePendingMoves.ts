import { useLayoutEffect, useRef } from "react";

/**
 * The router renders a move in a transition, so a key pressed or a control used before that render must
 * start from the last move, not from the rendered state (a toggle clicked and → pressed at once keep
 * both). `current()` is the state of the last move not rendered yet, else the rendered one; `moved`
 * records a move. A render of a state no move led to (a link, Back) forgets the pending moves.
 */
export function usePendingMoves<T>(rendered: T, keyOf: (state: T) => string) {
  const pending = useRef<T[]>([]);
  const renderedKey = keyOf(rendered);
  useLayoutEffect(() => {
    const index = pending.current.findIndex((state) => keyOf(state) === renderedKey);
    pending.current = index >= 0 ? pending.current.slice(index + 1) : [];
    // keyOf is a pure function of the state: only the rendered key matters here.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [renderedKey]);
  return {
    current: (): T => pending.current.at(-1) ?? rendered,
    moved: (state: T): void => {
      pending.current = [...pending.current, state];
    },
  };
}
