/**
 * The one debounce of the dashboard, for controls whose value is written (to the URL, or to a query)
 * only once it rests: the mode index's text filters, the overlay sliders, the search box. The control
 * shows a draft; an edit restarts one timer for every field of the draft, so fields edited one right
 * after the other are written together and none is lost. A committed value that changes from outside
 * (the URL on back/forward or a link) moves only the fields it changed: an edit of another field that
 * has not been written yet is kept.
 */
import { useCallback, useEffect, useEffectEvent, useState } from "react";

type Fields = Record<string, unknown>;

function changedKeys<T extends Fields>(a: T, b: T): (keyof T)[] {
  return (Object.keys(a) as (keyof T)[]).filter((key) => !Object.is(a[key], b[key]));
}

/**
 * `[draft, edit]`: the draft the control shows (at first `committed`), and `edit(change)`, which
 * merges `change` into it. `commit(draft)` is called once no edit came for `delayMs` and the draft
 * differs from `committed`.
 */
export function useDebouncedDraft<T extends Fields>(
  committed: T,
  commit: (draft: T) => void,
  delayMs: number,
): [draft: T, edit: (change: Partial<T>) => void] {
  const [draft, setDraft] = useState(committed);
  // The committed value last seen, to tell which of its fields changed from outside (state adjusted
  // while rendering, as React's docs do for a changed prop, rather than in an effect after the render).
  const [seen, setSeen] = useState(committed);
  const changed = changedKeys(committed, seen);
  if (changed.length > 0) {
    setSeen(committed);
    setDraft((shown) => {
      const next = { ...shown };
      for (const key of changed) next[key] = committed[key];
      return next;
    });
  }
  const unwritten = changedKeys(draft, committed).length > 0;
  const write = useEffectEvent((value: T) => commit(value));
  useEffect(() => {
    if (!unwritten) return undefined;
    const timer = setTimeout(() => write(draft), delayMs);
    return () => clearTimeout(timer);
  }, [draft, unwritten, delayMs]);
  const edit = useCallback((change: Partial<T>) => setDraft((shown) => ({ ...shown, ...change })), []);
  return [draft, edit];
}
