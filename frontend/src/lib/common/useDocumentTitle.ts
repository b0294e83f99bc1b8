import { useEffect } from "react";

/** Sets the tab title (what screen readers announce on navigation and what bookmarks keep). */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · qkatlas` : "qkatlas";
  }, [title]);
}
