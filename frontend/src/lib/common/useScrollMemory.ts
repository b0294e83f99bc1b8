/**
 * Scroll positions kept per address for the tab (sessionStorage, keyed by path and query), so that
 * Back, Forward and a reload come back to the same place. The router here is a plain `BrowserRouter`
 * (no data router, so no `ScrollRestoration`): a page calls `useScrollMemory` once what decides its
 * height has loaded, and its window scroll (and the scroll of one inner scroller, such as the mode
 * index's table) is put back where it was left at that address.
 */
import { type RefObject, useEffect, useEffectEvent, useRef } from "react";
import { useLocation } from "react-router";

const STORAGE_PREFIX = "qkatlas:scroll:";

export interface ScrollPosition {
  /** `window.scrollY`. */
  page: number;
  /** The inner scroller's `scrollTop` (0 without one). */
  inner: number;
}

export function savedScroll(address: string): ScrollPosition | null {
  try {
    const stored = sessionStorage.getItem(STORAGE_PREFIX + address);
    if (stored === null) return null;
    const { page, inner } = JSON.parse(stored) as Partial<ScrollPosition>;
    return typeof page === "number" && typeof inner === "number" ? { page, inner } : null;
  } catch {
    return null;
  }
}

export function saveScroll(address: string, position: ScrollPosition): void {
  try {
    sessionStorage.setItem(STORAGE_PREFIX + address, JSON.stringify(position));
  } catch {
    // Storage full or denied: the position is simply not remembered.
  }
}

/**
 * Remembers this address's scroll while the page is shown, and restores it once `ready` (the data
 * that sets the page's height has loaded) and whenever the address changes while ready.
 * `onUnknownAddress` runs instead when nothing was saved for the address (the mode index then
 * scrolls its table to the top for a new sort).
 */
export function useScrollMemory({
  ready,
  inner,
  onUnknownAddress,
}: {
  ready: boolean;
  inner?: RefObject<HTMLElement | null>;
  onUnknownAddress?: () => void;
}): void {
  const location = useLocation();
  const address = location.pathname + location.search;
  // The address the listeners save under: set only after this address's position was restored, so
  // that the scroll a restore (or a new page's layout) causes is never saved under the wrong address.
  const savingAs = useRef<string | null>(null);
  const unknownAddress = useEffectEvent(() => onUnknownAddress?.());

  useEffect(() => {
    if (!ready) return;
    const saved = savedScroll(address);
    if (saved) {
      inner?.current?.scrollTo({ top: saved.inner });
      window.scrollTo(0, saved.page);
    } else {
      unknownAddress();
    }
    savingAs.current = address;
  }, [ready, address, inner]);

  useEffect(() => {
    const element = inner?.current ?? null;
    const save = () => {
      if (savingAs.current === null) return;
      saveScroll(savingAs.current, { page: window.scrollY, inner: element?.scrollTop ?? 0 });
    };
    window.addEventListener("scroll", save, { passive: true });
    element?.addEventListener("scroll", save, { passive: true });
    return () => {
      window.removeEventListener("scroll", save);
      element?.removeEventListener("scroll", save);
    };
  }, [ready, inner]);
}
