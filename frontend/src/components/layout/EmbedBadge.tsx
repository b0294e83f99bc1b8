/** The title of an embed (its `badge` part): what it shows, linked to the full page (a new tab, like every link of an embed). */
import { useLocation } from "react-router";
import { fullAppUrl } from "../../lib/embed/embedOptions";

export function EmbedBadge({ title, detail }: { title: string; detail: string }) {
  const location = useLocation();
  return (
    <h1 className="embed-badge">
      <a href={fullAppUrl(`${location.pathname}${location.search}`)} target="_blank" rel="noopener">
        <span aria-hidden="true" className="brand-mark">
          qk
        </span>
        <span className="visually-hidden">qkatlas: </span>
        {title}
      </a>{" "}
      <span className="subtitle">{detail}</span>
    </h1>
  );
}
