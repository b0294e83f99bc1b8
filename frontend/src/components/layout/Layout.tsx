import { Suspense, useCallback, useState } from "react";
import { Link, NavLink, Outlet, useSearchParams } from "react-router";
import { useAtlasRevisionWatch } from "../../api/atlasRevisions";
import { ProgressProvider } from "../../api/useProgress";
import { EmbedContext, parseEmbedOptions } from "../../lib/embed/embedOptions";
import { PageShortcutsContext, type Shortcut } from "../../lib/keys/shortcuts";
import { ProgressIndicator } from "../model/ProgressPanel";
import { SearchBox } from "../search/SearchBox";
import { EmbedFrame } from "./EmbedFrame";
import { ShortcutSheet } from "./ShortcutSheet";
import { Loading } from "../ui/Status";
import { ThemeToggle } from "./ThemeToggle";

export function Layout() {
  useAtlasRevisionWatch();
  // Any address with `embed=1` drops the app's chrome (lib/embed): the pages read the options from the context.
  const [search] = useSearchParams();
  const embed = parseEmbedOptions(search);
  // The keys the page's components declare, by component, for the shortcut sheet.
  const [declared, setDeclared] = useState<ReadonlyMap<string, Shortcut[]>>(new Map());
  const declare = useCallback((id: string, shortcuts: Shortcut[] | null) => {
    setDeclared((current) => {
      const next = new Map(current);
      if (shortcuts) next.set(id, shortcuts);
      else next.delete(id);
      return next;
    });
  }, []);
  if (embed.embedded) {
    return (
      <ProgressProvider>
        <EmbedContext value={embed}>
          <EmbedFrame>
            <Outlet />
          </EmbedFrame>
        </EmbedContext>
      </ProgressProvider>
    );
  }
  return (
    <ProgressProvider>
      <PageShortcutsContext value={declare}>
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
            <NavLink to="/classes">Classes</NavLink>
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
        <ShortcutSheet pageShortcuts={[...declared.values()].flat()} />
      </PageShortcutsContext>
    </ProgressProvider>
  );
}
