import { useEffect } from "react";
import { documentTitle } from "./pageTitles";

/** Sets the tab title (what screen readers announce on navigation and what bookmarks keep): `title` is the
 * page's name from `pageTitle` (lib/common/pageTitles.ts), which the server's link previews say too. */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = documentTitle(title);
  }, [title]);
}
