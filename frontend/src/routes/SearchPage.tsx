/**
 * Search results (`/search?q=`): everything the query finds, where the header's box shows a few of
 * each kind: models, layers, heads and modes by name, the classes it names, the modes most selective
 * for them (with their best images), and which atlases cannot answer class queries.
 */
import { type FormEvent, useState } from "react";
import { HowToRead } from "../components/ui/HowToRead";
import { Link, useNavigate, useSearchParams } from "react-router";
import type { SearchResults } from "../api/client";
import { count } from "../lib/common/format";
import { useModels, useSearch } from "../api/resources";
import { ClassModeCard } from "../components/search/ClassModeCard";
import { Empty, Loaded } from "../components/ui/Status";
import { atlasName } from "../lib/address/atlasNames";
import { classPath, modelPath, searchPath } from "../lib/address/paths";
import { nameHref } from "../lib/search/searchOptions";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { pageTitle } from "../lib/common/pageTitles";

/** The most the API gives. */
const LIMIT = 100;

export default function SearchPage() {
  const [search] = useSearchParams();
  const query = (search.get("q") ?? "").trim();
  useDocumentTitle(pageTitle.search(query));
  return (
    <>
      <div className="page-title">
        <h1>{query ? <>Search results for “{query}”</> : "Search"}</h1>
      </div>
      <HowToRead page="search" />
      <SearchForm key={query} initial={query} />
      {query ? (
        <Results query={query} />
      ) : (
        <p className="muted">
          Search a model by name, a layer, head or mode (<code>L6 H2 M3</code>, <code>dino L6 H2</code>), or a class
          label: its most selective modes across every model.
        </p>
      )}
    </>
  );
}

function SearchForm({ initial }: { initial: string }) {
  const navigate = useNavigate();
  const [text, setText] = useState(initial);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) navigate(searchPath(text.trim()));
  };
  return (
    <form className="search-form controls" onSubmit={submit} aria-label="Search again">
      <label className="select">
        <span>Search for</span>
        <input type="search" value={text} onChange={(e) => setText(e.target.value)} size={28} />
      </label>
      <button type="submit" className="button">
        Search
      </button>
    </form>
  );
}

function Results({ query }: { query: string }) {
  const results = useSearch(query, LIMIT);
  const models = useModels();
  const nameOf = (slug: string) => atlasName(models.status === "ok" ? models.data : [], slug);
  return (
    <Loaded state={results} label="Searching…">
      {(data) => <ResultList data={data} nameOf={nameOf} />}
    </Loaded>
  );
}

function ResultList({ data, nameOf }: { data: SearchResults; nameOf: (slug: string) => string }) {
  const nothing = data.names.length === 0 && data.classes.length === 0 && data.class_modes.length === 0;
  return (
    <>
      {nothing ? (
        <Empty>Nothing matches “{data.query}”: no model, layer, head, mode or class of that name.</Empty>
      ) : null}
      {data.names.length > 0 ? (
        <section aria-labelledby="names-heading">
          <h2 id="names-heading">Models, layers, heads and modes</h2>
          <ul className="result-list">
            {data.names.map((match) => (
              <li key={`${match.model}-${match.title}`}>
                <Link to={nameHref(match)}>{match.title}</Link>{" "}
                <span className="muted">
                  {match.kind}
                  {match.kind === "layer" ? " (in the mode index)" : ""} · {nameOf(match.model)}
                </span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {data.classes.length > 0 ? (
        <section aria-labelledby="classes-heading">
          <h2 id="classes-heading">Classes</h2>
          <ul className="result-list">
            {data.classes.map((match) => (
              <li key={match.label}>
                <Link to={classPath(match.label)}>{match.label}</Link>{" "}
                <span className="muted">in {count(match.n_models, "model")}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {data.class_modes.length > 0 ? (
        <section aria-labelledby="class-modes-heading">
          <h2 id="class-modes-heading">Modes most selective for these classes</h2>
          <ol className="class-mode-list class-mode-grid">
            {data.class_modes.map((match) => (
              <ClassModeCard
                key={`${match.mode.model}-${match.label}-${match.mode.layer}-${match.mode.head}-${match.mode.mode}-${match.mode.sign}`}
                match={match}
                withModel
                withClass
              />
            ))}
          </ol>
        </section>
      ) : null}
      {data.missing_statistics.length > 0 ? (
        <div className="status status-empty" role="note">
          <strong>Not searched by class</strong> (no per-mode statistics: rebuild to add them):{" "}
          {data.missing_statistics.map((slug, i) => (
            <span key={slug}>
              {i > 0 ? ", " : ""}
              <Link to={modelPath(slug)}>{nameOf(slug)}</Link>
            </span>
          ))}
          .
        </div>
      ) : null}
    </>
  );
}
