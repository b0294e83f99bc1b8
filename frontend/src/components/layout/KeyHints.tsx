/**
 * A visible reminder of the page's stepping keys (see lib/keys/keyboard), which it also declares to the
 * shortcut sheet. Hidden on touch screens (styles.css), where there is no keyboard to use.
 */
import { stepShortcuts, usePageShortcuts } from "../../lib/keys/shortcuts";

export function KeyHints({ inner, outer }: { inner: string; outer?: string }) {
  usePageShortcuts(stepShortcuts(inner, outer));
  return (
    <p className="key-hints">
      Keys: <kbd>←</kbd> <kbd>→</kbd> or <kbd>k</kbd> <kbd>j</kbd> previous / next {inner}
      {outer ? (
        <>
          ; with <kbd>Shift</kbd>: previous / next {outer}
        </>
      ) : null}
      ; <kbd>?</kbd> all keys.
    </p>
  );
}
