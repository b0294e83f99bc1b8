/**
 * The keys of the current page, for the shortcut sheet (`?`): the keys every page has, plus those the
 * page's components declare while they are shown (`usePageShortcuts`).
 */
import { createContext, useContext, useEffect, useId } from "react";

export interface Shortcut {
  /** The keys, each one way to do it (e.g. `["←", "k"]`). */
  keys: string[];
  action: string;
}

export const GLOBAL_SHORTCUTS: Shortcut[] = [
  { keys: ["/"], action: "focus the search box" },
  { keys: ["?"], action: "show this list of keys" },
];

/** The stepping keys of `lib/keys/keyboard.ts`, for a page that steps through `inner` (and `outer` with Shift). */
export function stepShortcuts(inner: string, outer?: string): Shortcut[] {
  const steps: Shortcut[] = [
    { keys: ["←", "k"], action: `previous ${inner}` },
    { keys: ["→", "j"], action: `next ${inner}` },
  ];
  if (outer) {
    steps.push(
      { keys: ["Shift+←", "K"], action: `previous ${outer}` },
      { keys: ["Shift+→", "J"], action: `next ${outer}` },
    );
  }
  return steps;
}

/** Sets (or, with null, removes) the shortcuts one component declares, under its own id. */
export type DeclareShortcuts = (id: string, shortcuts: Shortcut[] | null) => void;

export const PageShortcutsContext = createContext<DeclareShortcuts>(() => undefined);

/** Declares keys of the current page while the calling component is mounted. */
export function usePageShortcuts(shortcuts: Shortcut[]): void {
  const declare = useContext(PageShortcutsContext);
  const id = useId();
  // The list is rebuilt on every render; its text is what matters.
  const key = JSON.stringify(shortcuts);
  useEffect(() => {
    declare(id, JSON.parse(key) as Shortcut[]);
    return () => declare(id, null);
  }, [declare, id, key]);
}
