import { Suspense } from "react";
import { Link, NavLink, Outlet } from "react-router";
import { useAtlasRevisionWatch } from "../api/atlasRevisions";
import { ProgressProvider } from "../api/useProgress";
import { ProgressIndicator } from "./ProgressPanel";
import { SearchBox } from "./SearchBox";
import { Loading } from "./Status";
import { ThemeToggle } from "./ThemeToggle";

export function Layout() {
  useAtlasRevisionWatch();
  return (
    <ProgressProvider>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <Link to="/" className="brand" aria-label="qkatlas home">
          <span aria-hidden="true" className="brand-mark">
            qk
          </span>
          atlas
        </Link>
        <nav aria-label="Main">
          <NavLink to="/" end>
            Models
          </NavLink>
          <NavLink to="/upload">Upload</NavLink>
        </nav>
        <SearchBox />
        <ProgressIndicator />
        <ThemeToggle />
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
      <footer className="site-footer">
        Query-key singular modes of vision transformers. Indices are 0-based; a mode is named <code>L8 H9 M2</code>.
      </footer>
    </ProgressProvider>
  );
}
