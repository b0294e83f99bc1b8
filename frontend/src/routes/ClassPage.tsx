/**
 * One class across every served model: each model's signed modes most selective for it, side by side
 * (a column per model), and which models cannot say (no statistics, or no such class). Under each mode,
 * the class's own images with their maps, computed on demand; one opens in the large view, which steps
 * to the same image under the head's neighbouring modes.
 */
import { type ReactNode, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { HowToRead } from "../components/ui/HowToRead";
import type { Basis, ClassAcrossModels, ModelClassModes, ModelSummary } from "../api/client";
import type { SignedModeAt } from "../api/resources";
import { BASES } from "../api/enums";
import { useClassAcrossModels, useClassList, useModels } from "../api/resources";
import { Breadcrumbs } from "../components/layout/Breadcrumbs";
import { ClassImageLargeView, ClassImagesUnderMode, type ClassImages } from "../components/search/ClassImages";
import { ClassModeCard } from "../components/search/ClassModeCard";
import { SegmentedControl } from "../components/ui/SegmentedControl";
import { Empty, Loaded, Loading } from "../components/ui/Status";
import { NotFound } from "../components/layout/NotFound";
import { atlasName } from "../lib/address/atlasNames";
import { DEFAULT_MODE_INDEX_VIEW, modeIndexSearch } from "../lib/search/modeIndexView";
import { classPath, classesPath, modeIndexPath, modelPath, searchPath } from "../lib/address/paths";
import { count, integer } from "../lib/common/format";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { pageTitle } from "../lib/common/pageTitles";
import { tooFewImages, unrankableDataset } from "../lib/search/classReliability";
import { nearClasses } from "../lib/search/nearClasses";

/** Modes shown per model. */
const PER_MODEL = 8;

/** The image open in the large view: a model's class image (by position) under a signed mode. */
interface Opened {
  model: string;
  position: number;
  at: SignedModeAt;
}

export default function ClassPage() {
  const { label = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const basisParam = search.get("basis");
  const basis = BASES.find((b) => b === basisParam);
  useDocumentTitle(pageTitle.class(label));
  const result = useClassAcrossModels(label, basis, PER_MODEL);
  const models = useModels();
  const served = models.status === "ok" ? models.data : [];
  const nameOf = (slug: string, modelId?: string) => atlasName(served, slug, modelId);
  if (result.status === "error" && result.httpStatus === 404) return <ClassNotFound label={label} />;

  return (
    <>
      <Breadcrumbs items={[{ label: "Models", to: "/" }, { label: "Classes", to: classesPath() }, { label }]} />
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

/**
 * One model's modes for the class: a ranking when the class has enough images; marked when it does
 * not; and, when no class of the dataset has enough, not presented as a ranking at all (folded away
 * under what it is).
 */
function ClassModes({
  model,
  reliable,
  imagesUnder,
}: {
  model: ModelClassModes;
  reliable: number;
  /** What to show under a mode's best images (the class's own images under it). */
  imagesUnder: (at: SignedModeAt) => ReactNode;
}) {
  const list = (
    <ol className="class-mode-list">
      {model.modes.map((match) => {
        const at: SignedModeAt = {
          layer: match.mode.layer,
          head: match.mode.head,
          mode: match.mode.mode,
          sign: match.mode.sign,
          basis: match.mode.basis,
        };
        return (
          <ClassModeCard key={`${at.layer}-${at.head}-${at.mode}-${at.sign}`} match={match} reliableImages={reliable}>
            {imagesUnder(at)}
          </ClassModeCard>
        );
      })}
    </ol>
  );
  if (unrankableDataset(model.dataset, model.largest_class_images, reliable)) {
    // The dataset's note above the columns says why.
    return (
      <details className="class-modes-unranked">
        <summary>The modes with the highest selectivity anyway (not a finding)</summary>
        {list}
      </details>
    );
  }
  return (
    <>
      {tooFewImages(model.n_images, reliable) ? (
        <div className="status status-warn" role="note">
          This class has {count(model.n_images, "image")} in {model.dataset}: its selectivities rest on{" "}
          {model.n_images === 1 ? "it" : "them"} alone (fewer than {count(reliable, "image")}), so this ranking is not
          reliable.
        </div>
      ) : null}
      {list}
    </>
  );
}

/** Once per dataset whose every class is too small: why its models' modes are not ranked. */
function unrankableNotes(data: ClassAcrossModels): string[] {
  const notes = data.models.map((m) =>
    unrankableDataset(m.dataset, m.largest_class_images, data.reliable_class_images),
  );
  return [...new Set(notes.filter((note) => note !== null))];
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
  const [opened, setOpened] = useState<Opened | null>(null);
  const imagesOf = (m: ModelClassModes): ClassImages => ({
    model: m.model,
    revision: m.revision,
    label: data.label,
    images: m.images,
  });
  const openedModel = opened === null ? undefined : data.models.find((m) => m.model === opened.model);
  const openedSummary = opened === null ? undefined : models.find((m) => m.slug === opened.model);
  return (
    <>
      {data.models.length === 0 ? (
        <Empty>No served model with statistics has a class “{data.label}”.</Empty>
      ) : (
        <>
          {unrankableNotes(data).map((note) => (
            <div key={note} className="status status-warn" role="note">
              {note}
            </div>
          ))}
          <div className="class-columns">
            {data.models.map((m) => {
              const headingId = `class-model-${m.model}`;
              return (
                <section key={m.model} className="class-column card" aria-labelledby={headingId}>
                  <h2 id={headingId}>
                    <Link to={modelPath(m.model)}>{nameOf(m.model, m.model_id)}</Link>
                  </h2>
                  <p className="muted small">
                    {count(m.n_images, "image")} of the class in {m.dataset} ·{" "}
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
                  <p className="muted small">
                    <ClassImagesNote model={m} />
                  </p>
                  {m.modes.length === 0 ? (
                    <p className="muted">No mode of this model responds to the class more than to the others.</p>
                  ) : (
                    <ClassModes
                      model={m}
                      reliable={data.reliable_class_images}
                      imagesUnder={(at) =>
                        m.images.length > 0 ? (
                          <ClassImagesUnderMode
                            of={imagesOf(m)}
                            at={at}
                            onOpen={(position) => setOpened({ model: m.model, position, at })}
                          />
                        ) : null
                      }
                    />
                  )}
                </section>
              );
            })}
          </div>
        </>
      )}
      {opened !== null && openedModel && openedSummary ? (
        <ClassImageLargeView
          of={imagesOf(openedModel)}
          at={opened.at}
          position={opened.position}
          nModes={openedSummary.n_modes}
          preprocessing={openedSummary.preprocessing.description}
          labelHref={classPath}
          onMove={(position, at) => setOpened({ model: opened.model, position, at })}
          onClose={() => setOpened(null)}
        />
      ) : null}
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

/** Which of the class's images each mode shows, and why not all of them. */
function ClassImagesNote({ model }: { model: ModelClassModes }) {
  const shown = model.images.length;
  const listed = model.n_images_listed;
  if (listed === 0)
    return <>The atlas keeps no record of this class&apos;s images, so none is shown under the modes.</>;
  return (
    <>
      Under each mode: {shown === listed ? `the class's ${count(shown, "image")}` : `${shown} of the class's images`},
      their maps computed by the model on demand
      {listed < model.n_images
        ? ` (the atlas records ${integer(listed)} of the class's ${count(model.n_images, "image")}: those among its modes' top images)`
        : ""}
      .
    </>
  );
}

/** A class no served dataset has: the nearest classes that exist (by part of the label or a few edits), and the list. */
function ClassNotFound({ label }: { label: string }) {
  const classes = useClassList();
  if (classes.status === "loading") return <Loading label="Looking for near classes…" />;
  const labels = classes.status === "ok" ? classes.data.classes.map((c) => c.label) : [];
  const cannotSay = classes.status === "ok" ? classes.data.missing_statistics.length : 0;
  const near = nearClasses(label, labels);
  return (
    <NotFound
      title="Class not found"
      problem={
        `No served dataset has a class “${label}”.` +
        (cannotSay > 0
          ? ` (${cannotSay === 1 ? "One atlas has" : `${cannotSay} atlases have`} no per-mode statistics and cannot say.)`
          : "")
      }
      exists={
        near.length > 0
          ? "Classes with a near name:"
          : `No class has a near name; ${count(labels.length, "class", "classes")} are listed on the classes page.`
      }
      links={[
        ...near.map((n) => ({ label: n, to: classPath(n) })),
        { label: "Every class", to: classesPath() },
        { label: `Search for “${label}”`, to: searchPath(label) },
      ]}
      linksLabel={near.length > 0 ? "Near classes" : "Pages that exist"}
    />
  );
}
