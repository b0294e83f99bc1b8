/**
 * The in-app "not found" page: what is wrong with the address, what exists instead, and links to
 * valid pages; no other control. Every page with an address that names nothing renders it (the upload
 * page too, for an unknown upload).
 */
import type { ReactNode } from "react";
import { Link } from "react-router";
import { useDocumentTitle } from "../../lib/common/useDocumentTitle";
import { pageTitle } from "../../lib/common/pageTitles";

export interface NotFoundLink {
  label: string;
  to: string;
}

export function NotFound({
  title = pageTitle.notFound(),
  problem,
  exists,
  links = [],
  linksLabel = "Pages that exist",
}: {
  /** The page's heading (and document title). */
  title?: string;
  /** What is wrong with the address. */
  problem: ReactNode;
  /** What exists instead, e.g. "This model has 12 layers, L0–L11." */
  exists?: ReactNode;
  links?: NotFoundLink[];
  /** The list's accessible name. */
  linksLabel?: string;
}) {
  useDocumentTitle(title);
  return (
    <section className="not-found" aria-labelledby="not-found-heading">
      <h1 id="not-found-heading">{title}</h1>
      <p className="not-found-problem">{problem}</p>
      {exists ? <p className="not-found-exists">{exists}</p> : null}
      {links.length > 0 ? (
        <ul className="not-found-links" aria-label={linksLabel}>
          {links.map((link) => (
            <li key={link.to}>
              <Link to={link.to}>{link.label}</Link>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
