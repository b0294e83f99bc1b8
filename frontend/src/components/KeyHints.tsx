/** A visible reminder of the page's keyboard shortcuts (see lib/keyboard). */
export function KeyHints({ inner, outer }: { inner: string; outer?: string }) {
  return (
    <p className="key-hints">
      Keys: <kbd>←</kbd> <kbd>→</kbd> or <kbd>k</kbd> <kbd>j</kbd> previous / next {inner}
      {outer ? (
        <>
          ; with <kbd>Shift</kbd>: previous / next {outer}
        </>
      ) : null}
      .
    </p>
  );
}
