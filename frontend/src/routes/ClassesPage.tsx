/**
 * Every class of every served dataset with labels, with its image count in each: filtered and sorted
 * in the URL (`?q=` part of a label, `?sort=name` or `?sort=<dataset>`, largest first), each class
 * linked to its page. Classes too small for their selectivities to be relied on are marked, and a
 * dataset whose every class is that small says so.
 */
import { Link, useSearchParams } from "react-router";
import type { ClassList, ModelSummary } from "../api/client";
import { useClassList, useModels } from "../api/resources";
import { Breadcrumbs } from "../components/layout/Breadcrumbs";
import { HowToRead } from "../components/ui/HowToRead";
import { Empty, Loaded } from "../components/ui/Status";
import { atlasName } from "../lib/address/atlasNames";
import { classPath, modelPath } from "../lib/address/paths";
import { count, integer } from "../lib/common/format";
import { useDebouncedDraft } from "../lib/common/useDebouncedDraft";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { pageTitle } from "../lib/common/pageTitles";
import { tooFewImages, unrankableDataset } from "../lib/search/classReliability";
import { classWords } from "../lib/search/nearClasses";

/** Wait after the last keystroke in the filter before it reaches the URL. */
const FILTER_SETTLE_MS = 250;

export default function ClassesPage() {
  useDocumentTitle(pageTitle.classes());
  const classes = useClassList();
  const models = useModels();
  const served = models.status === "ok" ? models.data : [];
  return (
    <>
      <Breadcrumbs items={[{ label: "Models", to: "/" }, { label: "Classes" }]} />
      <h1>Classes</h1>
      <HowToRead page="classes" />
      <p className="muted">
        Every class of the served datasets, with how many of its images were scored. A class&apos;s page lists, in each
        model, the modes most selective for it; its selectivities rest on those images.
      </p>
      <Loaded state={classes} label="Loading the classes…">
        {(data) => <ClassTable data={data} models={served} />}
      </Loaded>
    </>
  );
}

function ClassTable({ data, models }: { data: ClassList; models: ModelSummary[] }) {
  const [search, setSearch] = useSearchParams();
  const filter = search.get("q") ?? "";
  const sortParam = search.get("sort");
  const sortColumn = data.datasets.findIndex((d) => d.name === sortParam);
  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value === "") next.delete(key);
    else next.set(key, value);
    setSearch(next, { replace: true });
  };
  const [draft, edit] = useDebouncedDraft({ text: filter }, ({ text }) => setParam("q", text.trim()), FILTER_SETTLE_MS);
  const reliable = data.reliable_class_images;
  const names = (slugs: string[]) =>
    slugs.map((slug, i) => (
      <span key={slug}>
        {i > 0 ? ", " : ""}
        <Link to={modelPath(slug)}>{atlasName(models, slug)}</Link>
      </span>
    ));

  if (data.datasets.length === 0) {
    return (
      <>
        <Empty>
          No served atlas has class labels, so there are no classes to list
          {models.length === 0 ? " (no atlas is served yet)" : ""}.
        </Empty>
        {data.without_labels.length > 0 ? (
          <p className="muted">Their datasets have no labels: {names(data.without_labels)}.</p>
        ) : null}
        {data.missing_statistics.length > 0 ? (
          <p className="muted">Without per-mode statistics (rebuild to add them): {names(data.missing_statistics)}.</p>
        ) : null}
      </>
    );
  }

  // Where every class of a dataset is too small, its warning says so once, not a badge on each row.
  const wholeDatasetSmall = data.datasets.map((d) => tooFewImages(d.largest_class_images, reliable));
  const wanted = classWords(filter);
  const rows = data.classes.filter((c) => wanted === "" || classWords(c.label).includes(wanted));
  if (sortColumn >= 0) {
    // Largest first; a class the dataset lacks last; ties in label order (the server's).
    rows.sort((a, b) => (b.n_images[sortColumn] ?? -1) - (a.n_images[sortColumn] ?? -1));
  }
  return (
    <>
      <ul className="dataset-list">
        {data.datasets.map((dataset) => {
          const warning = unrankableDataset(dataset.name, dataset.largest_class_images, reliable);
          return (
            <li key={dataset.name + dataset.atlases.join()}>
              <strong>{dataset.name}</strong>: {count(dataset.n_classes, "class", "classes")},{" "}
              {count(dataset.n_images, "image")} with a label · {names(dataset.atlases)}
              {warning ? (
                <div className="status status-warn" role="note">
                  {warning}
                </div>
              ) : null}
            </li>
          );
        })}
      </ul>
      <form className="filters" aria-label="Filter and sort the classes" onSubmit={(e) => e.preventDefault()}>
        <label className="select">
          <span>Class contains</span>
          <input type="search" value={draft.text} size={18} onChange={(e) => edit({ text: e.target.value })} />
        </label>
        <label className="select">
          <span>Sort by</span>
          <select value={sortColumn >= 0 ? (sortParam ?? "") : ""} onChange={(e) => setParam("sort", e.target.value)}>
            <option value="">name (A–Z)</option>
            {data.datasets.map((d) => (
              <option key={d.name} value={d.name}>
                images in {d.name} (most first)
              </option>
            ))}
          </select>
        </label>
      </form>
      <p className="index-count" aria-live="polite">
        {rows.length === data.classes.length
          ? count(data.classes.length, "class", "classes")
          : `${integer(rows.length)} of ${count(data.classes.length, "class", "classes")}`}
      </p>
      {rows.length === 0 ? (
        <Empty>No class contains “{filter}”.</Empty>
      ) : (
        <div className="table-scroll">
          <table className="data-table class-table" aria-label="Classes and their images">
            <thead>
              <tr>
                <th scope="col" aria-sort={sortColumn < 0 ? "ascending" : undefined}>
                  Class
                </th>
                {data.datasets.map((d, column) => (
                  <th
                    key={d.name}
                    scope="col"
                    className="num"
                    aria-sort={column === sortColumn ? "descending" : undefined}
                  >
                    images in {d.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <tr key={c.label}>
                  <th scope="row">
                    <Link to={classPath(c.label)}>{c.label}</Link>
                  </th>
                  {c.n_images.map((n, column) => (
                    <td key={data.datasets[column]?.name ?? column} className="num">
                      {n === null ? (
                        <span className="muted">—</span>
                      ) : (
                        <>
                          {integer(n)}
                          {tooFewImages(n, reliable) && !wholeDatasetSmall[column] ? (
                            <span className="badge badge-warn" title={`fewer than ${count(reliable, "image")}`}>
                              few
                            </span>
                          ) : null}
                        </>
                      )}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
