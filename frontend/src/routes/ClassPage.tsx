/**
 * One class across every served model: each model's signed modes most selective for it, side by side
 * (a column per model), and which models cannot say (no statistics, or no such class).
 */
import { Link, useParams, useSearchParams } from "react-router";
import { HowToRead } from "../components/ui/HowToRead";
import type { Basis, ClassAcrossModels, ModelSummary } from "../api/client";
import { BASES } from "../api/enums";
import { useClassAcrossModels, useModels } from "../api/resources";
import { Breadcrumbs } from "../components/layout/Breadcrumbs";
import { ClassModeCard } from "../components/search/ClassModeCard";
import { SegmentedControl } from "../components/ui/SegmentedControl";
import { Empty, Loaded } from "../components/ui/Status";
import { atlasName } from "../lib/address/atlasNames";
import { DEFAULT_MODE_INDEX_VIEW, modeIndexSearch } from "../lib/search/modeIndexView";
import { modeIndexPath, modelPath } from "../lib/address/paths";
import { count } from "../lib/common/format";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";

/** Modes shown per model. */
const PER_MODEL = 8;

export default function ClassPage() {
  const { label = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const basisParam = search.get("basis");
  const basis = BASES.find((b) => b === basisParam);
  useDocumentTitle(`Class ${label}`);
  const result = useClassAcrossModels(label, basis, PER_MODEL);
  const models = useModels();
  const served = models.status === "ok" ? models.data : [];
  const nameOf = (slug: string, modelId?: string) => atlasName(served, slug, modelId);

  return (
    <>
      <Breadcrumbs items={[{ label: "Models", to: "/" }, { label: "Classes" }, { label }]} />
      <div className="page-title">
        <h1>Class “{label}”</h1>
      </div>
      <HowToRead page="class" />
      <p className="muted">
        In each served model, the signed modes most selective for this class: selectivity = (mean score of the
        class&apos;s images − mean score of all images) / standard deviation, for that mode.
      </p>
      <div className="controls">
        <SegmentedControl<Basis | "first">
          label="Basis"
          help="basis"
          value={basis ?? "first"}
          options={[{ value: "first", label: "each atlas's first" }, ...BASES.map((b) => ({ value: b, label: b }))]}
          onChange={(b) => setSearch(b === "first" ? {} : { basis: b }, { replace: true })}
        />
      </div>
      <Loaded state={result} label="Loading the class…">
        {(data) => <ClassColumns data={data} nameOf={nameOf} models={served} />}
      </Loaded>
    </>
  );
}

function ClassColumns({
  data,
  nameOf,
  models,
}: {
  data: ClassAcrossModels;
  nameOf: (slug: string, modelId?: string) => string;
  models: ModelSummary[];
}) {
  const list = (slugs: string[]) =>
    slugs.map((slug, i) => (
      <span key={slug}>
        {i > 0 ? ", " : ""}
        <Link to={modelPath(slug)}>{nameOf(slug)}</Link>
      </span>
    ));
  const note = models.find((m) => data.missing_statistics.includes(m.slug))?.statistics.note;
  return (
    <>
      {data.models.length === 0 ? (
        <Empty>No served model with statistics has a class “{data.label}”.</Empty>
      ) : (
        <div className="class-columns">
          {data.models.map((m) => {
            const headingId = `class-model-${m.model}`;
            return (
              <section key={m.model} className="class-column card" aria-labelledby={headingId}>
                <h2 id={headingId}>
                  <Link to={modelPath(m.model)}>{nameOf(m.model, m.model_id)}</Link>
                </h2>
                <p className="muted small">
                  {count(m.n_images, "image")} of the class ·{" "}
                  <Link
                    to={modeIndexPath(
                      m.model,
                      modeIndexSearch({
                        ...DEFAULT_MODE_INDEX_VIEW,
                        sort: "selectivity",
                        order: "desc",
                        topClass: data.label,
                      }),
                    )}
                  >
                    in the mode index
                  </Link>
                </p>
                {m.modes.length === 0 ? (
                  <p className="muted">No mode of this model responds to the class more than to the others.</p>
                ) : (
                  <ol className="class-mode-list">
                    {m.modes.map((match) => (
                      <ClassModeCard
                        key={`${match.mode.layer}-${match.mode.head}-${match.mode.mode}-${match.mode.sign}`}
                        match={match}
                        withClassSize={false}
                      />
                    ))}
                  </ol>
                )}
              </section>
            );
          })}
        </div>
      )}
      {data.missing_statistics.length > 0 ? (
        <div className="status status-empty" role="note">
          <strong>Left out, without per-mode statistics:</strong> {list(data.missing_statistics)} —{" "}
          {note ?? "not computed: rebuild to add them"}.
        </div>
      ) : null}
      {data.without_class.length > 0 ? (
        <p className="muted">
          Without a class “{data.label}” in their dataset: {list(data.without_class)}.
        </p>
      ) : null}
      {data.without_basis.length > 0 ? (
        <p className="muted">
          Without the {data.basis} basis: {list(data.without_basis)}.
        </p>
      ) : null}
    </>
  );
}
