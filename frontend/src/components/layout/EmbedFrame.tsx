/**
 * The layout of an embed (`embed=1`, lib/embed): the page's content only (no header, search, footer,
 * shortcut sheet), sized by its iframe, with the link "open in qkatlas" to the same view in the full app.
 * Every link that leaves the view opens the full app in a new tab: an iframe is no place to browse.
 * Actions that would take the frame elsewhere (exploring an image's attention) are not offered.
 */
import { type MouseEvent, type ReactNode, Suspense } from "react";
import { useLocation } from "react-router";
import {
  EMBED_PART_LABELS,
  fullAppUrl,
  openInFullApp,
  parseEmbedOptions,
  useEmbedOptions,
} from "../../lib/embed/embedOptions";
import { Loading } from "../ui/Status";

export function EmbedFrame({ children }: { children: ReactNode }) {
  const location = useLocation();
  const { unknownParts } = useEmbedOptions();
  const fullPage = fullAppUrl(`${location.pathname}${location.search}`);
  return (
    <div className="embed" onClickCapture={leaveInNewTab}>
      <main id="main" className="embed-main">
        {unknownParts.length > 0 ? (
          <p className="status status-warn" role="note">
            Unknown {unknownParts.length === 1 ? "part" : "parts"} in <code>parts=</code>: {unknownParts.join(", ")}{" "}
            (left out). Parts: {Object.keys(EMBED_PART_LABELS).join(", ")}.
          </p>
        ) : null}
        <Suspense fallback={<Loading />}>{children}</Suspense>
      </main>
      <p className="embed-footer">
        <a href={fullPage} target="_blank" rel="noopener">
          open in qkatlas<span aria-hidden="true"> ↗</span>
          <span className="visually-hidden"> (opens in a new tab)</span>
        </a>
      </p>
    </div>
  );
}

/**
 * A plain click on a link that leaves the embedded view opens the full app in a new tab. A link that keeps
 * `embed=1` (a top image's large view, an anchor on the page: built from the embed's own address) stays.
 */
function leaveInNewTab(event: MouseEvent<HTMLDivElement>) {
  if (
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  ) {
    return;
  }
  const anchor = event.target instanceof Element ? event.target.closest("a[href]") : null;
  if (!(anchor instanceof HTMLAnchorElement) || anchor.target !== "" || anchor.hasAttribute("download")) return;
  const to = new URL(anchor.href);
  const inApp = to.origin === window.location.origin;
  if ((to.protocol !== "http:" && to.protocol !== "https:") || (inApp && parseEmbedOptions(to.searchParams).embedded)) {
    return;
  }
  event.preventDefault();
  event.stopPropagation();
  if (inApp) openInFullApp(anchor.href);
  else window.open(anchor.href, "_blank", "noopener");
}
