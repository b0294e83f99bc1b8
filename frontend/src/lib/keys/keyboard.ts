/**
 * Page-level keyboard navigation. `←`/`→` or `k`/`j` step through modes (or heads where a page has
 * no modes); `Shift` with either steps through heads. They work wherever the focus is (on a toggle
 * button too: the segmented controls are buttons, not radio groups, for that reason), except where the
 * focused control handles the key itself: typing in a text field, arrows on a slider or a select, and
 * arrows inside an element marked `data-own-arrows` (the head grid, the patch picker). Events a
 * control has already handled (`preventDefault`, e.g. an open lightbox) are left alone. An embed
 * (`embed=1`, lib/embed) has none of these keys.
 */
import { useEffect, useEffectEvent } from "react";
import { useEmbedOptions } from "../embed/embedOptions";

export interface KeyNavHandlers {
  prev?: (() => void) | undefined;
  next?: (() => void) | undefined;
  prevOuter?: (() => void) | undefined;
  nextOuter?: (() => void) | undefined;
}

export type KeyNavAction = keyof KeyNavHandlers;

const TEXT_INPUTS = new Set(["text", "search", "email", "url", "number", "password", "tel"]);

/** Whether the focused element handles this key itself (text entry; arrows on a slider, a select or a grid). */
export function ownsKey(target: EventTarget | null, key: string): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target instanceof HTMLTextAreaElement || target.isContentEditable) return true;
  if (target instanceof HTMLInputElement && TEXT_INPUTS.has(target.type)) return true;
  if (!key.startsWith("Arrow")) return false;
  if (target instanceof HTMLInputElement && target.type === "range") return true;
  if (target instanceof HTMLSelectElement) return true;
  return target.closest("[data-own-arrows]") !== null;
}

/** `?` (Shift+/ on most layouts) opens the list of the page's keys. */
export function isShortcutSheetKey(event: Pick<KeyboardEvent, "key" | "altKey" | "ctrlKey" | "metaKey">): boolean {
  return event.key === "?" && !event.altKey && !event.ctrlKey && !event.metaKey;
}

export function keyNavAction(
  event: Pick<KeyboardEvent, "key" | "shiftKey" | "altKey" | "ctrlKey" | "metaKey">,
): KeyNavAction | null {
  if (event.altKey || event.ctrlKey || event.metaKey) return null;
  switch (event.key) {
    case "ArrowRight":
      return event.shiftKey ? "nextOuter" : "next";
    case "ArrowLeft":
      return event.shiftKey ? "prevOuter" : "prev";
    case "j":
      return "next";
    case "k":
      return "prev";
    case "J":
      return "nextOuter";
    case "K":
      return "prevOuter";
    default:
      return null;
  }
}

export function useKeyNav(handlers: KeyNavHandlers): void {
  // An embed has no keys: they would act on the page around its iframe's focus, unannounced.
  const { embedded } = useEmbedOptions();
  // An effect event: it sees the latest handlers, without re-subscribing on every render.
  const onKey = useEffectEvent((event: KeyboardEvent) => {
    if (event.defaultPrevented || ownsKey(event.target, event.key)) return;
    const action = keyNavAction(event);
    const handler = action && !embedded ? handlers[action] : undefined;
    if (handler) {
      event.preventDefault();
      handler();
    }
  });
  useEffect(() => {
    const listener = (event: KeyboardEvent) => onKey(event);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);
}
