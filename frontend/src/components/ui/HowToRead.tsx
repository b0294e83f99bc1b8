/** The collapsible "How to read this page" panel, with the page kind's lines from lib/help/pageHelp. */
import { PAGE_HELP, type PageKind } from "../../lib/help/pageHelp";

export function HowToRead({ page }: { page: PageKind }) {
  return (
    <details className="how-to-read">
      <summary>How to read this page</summary>
      {PAGE_HELP[page].map((line) => (
        <p key={line}>{line}</p>
      ))}
    </details>
  );
}
