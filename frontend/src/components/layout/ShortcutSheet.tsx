/**
 * The shortcut sheet: `?` (outside text fields) opens a modal dialog listing every key of the current
 * page. A native modal `<dialog>` keeps the focus inside (the rest of the page is inert) and closes on
 * Escape; the focus then returns to where it was.
 */
import { useEffect, useEffectEvent, useRef, useState } from "react";
import { isShortcutSheetKey, ownsKey } from "../../lib/keys/keyboard";
import { GLOBAL_SHORTCUTS, type Shortcut } from "../../lib/keys/shortcuts";

export function ShortcutSheet({ pageShortcuts }: { pageShortcuts: Shortcut[] }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const returnFocus = useRef<HTMLElement | null>(null);
  const [open, setOpen] = useState(false);

  const onKey = useEffectEvent((event: KeyboardEvent) => {
    if (open || event.defaultPrevented || !isShortcutSheetKey(event) || ownsKey(event.target, event.key)) return;
    event.preventDefault();
    returnFocus.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setOpen(true);
  });
  useEffect(() => {
    const listener = (event: KeyboardEvent) => onKey(event);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);

  useEffect(() => {
    const element = dialog.current;
    if (open && element && !element.open) element.showModal();
  }, [open]);

  const onClose = () => {
    setOpen(false);
    returnFocus.current?.focus();
    returnFocus.current = null;
  };

  const rows = [...pageShortcuts, ...GLOBAL_SHORTCUTS];
  return (
    <dialog ref={dialog} className="shortcut-sheet" aria-labelledby="shortcut-sheet-title" onClose={onClose}>
      {open ? (
        <>
          <h2 id="shortcut-sheet-title">Keys on this page</h2>
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">key</th>
                <th scope="col">does</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={`${row.keys.join(" ")} ${row.action}`}>
                  <td>
                    {row.keys.map((k, i) => (
                      <span key={k}>
                        {i > 0 ? " or " : null}
                        <kbd>{k}</kbd>
                      </span>
                    ))}
                  </td>
                  <td>{row.action}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small">Not while typing in a text field; arrows on a slider move the slider.</p>
          <form method="dialog">
            <button type="submit" className="button" autoFocus>
              Close
            </button>
          </form>
        </>
      ) : null}
    </dialog>
  );
}
