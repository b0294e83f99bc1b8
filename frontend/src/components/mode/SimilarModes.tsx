/**
 * "Similar modes" on the mode page: per served model on the same dataset (this one first), the signed modes
 * whose mean score per class correlates best with this mode's, each linked to its page, with the correlation,
 * the top images the two share and its σ. When the classes are too few for a correlation to mean anything
 * (the 1,000-photo demo has one photo per class), the list is folded away as "not a finding".
 */
import { Link } from "react-router";
import type { Basis, ModelSimilarModes, Sign, SimilarModes as SimilarModesAnswer } from "../../api/client";
import { useSimilarModes } from "../../api/resources";
import { modePath } from "../../lib/address/paths";
import { count, fmt, integer, modeName } from "../../lib/common/format";
import { Empty, Loaded } from "../ui/Status";

export function SimilarModes({
  model,
  position,
  view,
}: {
  model: string;
  position: { layer: number; head: number; mode: number };
  view: { sign: Sign; basis: Basis };
}) {
  const similar = useSimilarModes(model, position, view);
  return (
    <section aria-labelledby="similar-heading">
      <h2 id="similar-heading">Similar modes</h2>
      <Loaded state={similar} label="Loading similar modes…">
        {(data) => <SimilarModesView data={data} />}
      </Loaded>
    </section>
  );
}

export function SimilarModesView({ data }: { data: SimilarModesAnswer }) {
  if (data.unavailable !== null) {
    return <Empty>No similar modes: {data.unavailable}.</Empty>;
  }
  const over = `over ${count(data.n_classes, "class", "classes")}`;
  const models = (
    <div className="similar-models">
      {data.models.map((m) => (
        <ModelColumn key={m.model} entry={m} own={m.model === data.model} data={data} over={over} />
      ))}
    </div>
  );
  const notCompared = [
    ...data.missing_statistics.map((slug) => `${slug} (no statistics)`),
    ...data.without_basis.map((slug) => `${slug} (no ${data.basis} basis)`),
  ];
  return (
    <>
      <p className="muted small">
        The signed modes whose mean score per class correlates best with this one&apos;s, in every served model built on
        the same images, both signs compared: Pearson r over the {count(data.n_classes, "class", "classes")} of{" "}
        {data.dataset} that have scored images (the largest has {count(data.largest_class_images, "image")}). Beside
        each: how many of its top images this mode also lists (this mode lists {integer(data.top_images)}).
      </p>
      {data.too_few !== null ? (
        <>
          <div className="status status-warn" role="note">
            <strong>Not a finding:</strong> {data.too_few}.
          </div>
          <details className="class-modes-unranked">
            <summary>The most correlated modes anyway (not a finding)</summary>
            {models}
          </details>
        </>
      ) : (
        models
      )}
      {notCompared.length > 0 ? <p className="muted small">Not compared: {notCompared.join(", ")}.</p> : null}
      {data.other_datasets.length > 0 ? (
        <p className="muted small">
          {count(data.other_datasets.length, "served model")} built on other images{" "}
          {data.other_datasets.length === 1 ? "is" : "are"} not compared.
        </p>
      ) : null}
      <details className="small muted">
        <summary>How similarity is defined</summary>
        {data.rule}; {data.same_dataset_rule}.
      </details>
    </>
  );
}

function ModelColumn({
  entry,
  own,
  data,
  over,
}: {
  entry: ModelSimilarModes;
  own: boolean;
  data: SimilarModesAnswer;
  over: string;
}) {
  return (
    <div className="similar-model">
      <h3>
        {entry.model_id}
        {own ? " (this model)" : ""}
      </h3>
      {entry.modes.length === 0 ? (
        <p className="muted small">No mode to compare (none active with class means that vary).</p>
      ) : (
        <ol className="similar-list">
          {entry.modes.map((m) => (
            <li key={`${m.layer}-${m.head}-${m.mode}-${m.sign}`}>
              <Link to={modePath(entry.model, m.layer, m.head, m.mode, { sign: m.sign, basis: data.basis })}>
                {modeName(m.layer, m.head, m.mode)} {m.sign}
              </Link>{" "}
              <span className="similar-facts">
                r = {fmt(m.correlation, 2)} {over} ·{" "}
                {m.top_images === 0
                  ? "no top images listed"
                  : `${integer(m.shared_top_images)} of ${count(m.top_images, "top image")} shared`}{" "}
                · σ = {fmt(m.sigma)}
              </span>
            </li>
          ))}
        </ol>
      )}
      <p className="muted small">{count(entry.compared, "signed mode")} compared.</p>
    </div>
  );
}
