/**
 * Remove modes of the current head from its attention logits and run the model on
 * (docs/method.md#removing-modes): the chosen query patch's attention row before and after on one scale,
 * the attention moved at every query patch, and the model's output before and after. The chosen modes
 * live in the address (`remove=` or `keep=`), the query patch is the attention explorer's.
 */
import { useState } from "react";
import type { ClassChange, ModeAblation, RankedMode } from "../../api/client";
import { useModeAblation, useUploadHeadModes } from "../../api/resources";
import { type AblationChoice, isRunnable, toggleMode } from "../../lib/upload/ablation";
import { patchLabel } from "../../lib/upload/attention";
import { count, fmt, modeName, percent } from "../../lib/common/format";
import { PatchHeatmap } from "../explorer/PatchHeatmap";
import { type AttentionTarget, EXPLORER_FRAGMENT } from "../explorer/AttentionExplorer";
import { Loaded } from "../ui/Status";

export function AblationPanel({
  target,
  hasExactBasis,
  patch,
  choice,
  onChoose,
}: {
  target: AttentionTarget;
  /** Removing modes needs the exact basis (the modes that rebuild the logits). */
  hasExactBasis: boolean;
  /** The attention explorer's query patch. */
  patch: number | null;
  choice: AblationChoice | null;
  onChoose: (choice: AblationChoice | null) => void;
}) {
  return (
    <section aria-labelledby="ablation-heading" className="ablation-panel" id="remove-modes">
      <h2 id="ablation-heading">Remove modes</h2>
      {hasExactBasis ? (
        <>
          <p className="muted">
            Take modes of {modeName(target.layer, target.head)} out of this head&apos;s attention logits (σ
            <sub>n</sub> P<sub>U</sub>[i,n] P<sub>V</sub>[j,n] / √d<sub>h</sub>, exact basis, at every query token) and
            run the model on: every later layer is recomputed. The strongest modes are those of largest σ.
          </p>
          <ModePicker target={target} choice={choice} onChoose={onChoose} />
          {!isRunnable(choice) ? (
            <p className="muted">Choose modes to remove, then run.</p>
          ) : patch === null ? (
            <p className="muted">
              Pick a query patch in <a href={`#${EXPLORER_FRAGMENT}`}>the attention explorer</a> to compare its
              attention row before and after.
            </p>
          ) : (
            <AblationResult target={target} choice={choice} patch={patch} />
          )}
        </>
      ) : (
        <p className="muted">
          This atlas was built without the exact basis, whose modes rebuild the logits: modes cannot be removed here.
        </p>
      )}
    </section>
  );
}

/** The head's active modes in the image's ranking, to tick; or "all but the strongest k" by σ. */
function ModePicker({
  target,
  choice,
  onChoose,
}: {
  target: AttentionTarget;
  choice: AblationChoice | null;
  onChoose: (choice: AblationChoice | null) => void;
}) {
  const ranked = useUploadHeadModes(target.uploadId, target.model, target.layer, target.head, "exact");
  return (
    <Loaded state={ranked} label="Ranking the head's modes for your image…">
      {(r) => (
        <ModePickerForm
          key={`${target.model} ${target.layer} ${target.head} ${JSON.stringify(choice)}`}
          modes={r.modes.filter((m) => m.active)}
          choice={choice}
          onChoose={onChoose}
        />
      )}
    </Loaded>
  );
}

function ModePickerForm({
  modes,
  choice,
  onChoose,
}: {
  modes: RankedMode[];
  choice: AblationChoice | null;
  onChoose: (choice: AblationChoice | null) => void;
}) {
  // A draft until "Run" (each run is a forward pass of the model on the server); the form is keyed by the
  // head and the address's choice, so it starts again from them when either changes.
  const [draft, setDraft] = useState<AblationChoice>(choice ?? { kind: "remove", modes: [] });
  const ticked = draft.kind === "remove" ? draft.modes : [];
  const keep = draft.kind === "keepTop" ? draft.k : 1;
  if (modes.length === 0) return <p className="muted">This head has no active mode: there is nothing to remove.</p>;
  const bySigma = [...modes].sort((a, b) => a.mode - b.mode);
  return (
    <form
      className="ablation-form"
      onSubmit={(event) => {
        event.preventDefault();
        onChoose(isRunnable(draft) ? draft : null);
      }}
    >
      <fieldset>
        <legend>Modes to remove</legend>
        <label className="ablation-kind">
          <input
            type="radio"
            name="ablation-kind"
            checked={draft.kind === "remove"}
            onChange={() => setDraft({ kind: "remove", modes: ticked })}
          />
          These modes (ranked by their contribution C<sub>n</sub> to this image):
        </label>
        <ul className="ablation-modes">
          {modes.map((m) => (
            <li key={m.mode}>
              <label>
                <input
                  type="checkbox"
                  checked={ticked.includes(m.mode)}
                  onChange={() => setDraft({ kind: "remove", modes: toggleMode(ticked, m.mode) })}
                />
                M{m.mode}{" "}
                <span className="muted small">
                  σ {fmt(m.sigma)} · C {fmt(m.contribution)}
                </span>
              </label>
            </li>
          ))}
        </ul>
        <label className="ablation-kind">
          <input
            type="radio"
            name="ablation-kind"
            checked={draft.kind === "keepTop"}
            onChange={() => setDraft({ kind: "keepTop", k: keep })}
          />
          All but the strongest{" "}
          <input
            type="number"
            min={0}
            max={bySigma.length - 1}
            value={keep}
            aria-label="How many of the strongest modes (largest σ) to keep"
            onChange={(event) => setDraft({ kind: "keepTop", k: Math.max(0, Math.floor(Number(event.target.value))) })}
          />{" "}
          of {count(bySigma.length, "active mode")}, by σ
        </label>
      </fieldset>
      <div className="ablation-actions">
        <button type="submit" className="button button-primary" disabled={!isRunnable(draft)}>
          Run without them
        </button>
        {choice ? (
          <button type="button" className="button" onClick={() => onChoose(null)}>
            Clear
          </button>
        ) : null}
      </div>
    </form>
  );
}

function AblationResult({ target, choice, patch }: { target: AttentionTarget; choice: AblationChoice; patch: number }) {
  const result = useModeAblation(target.uploadId, target.model, target.layer, target.head, choice, patch);
  return (
    <Loaded state={result} label="Running the model with and without the modes…">
      {(a) => <AblationView ablation={a} imageSrc={target.imageSrc} />}
    </Loaded>
  );
}

function prefixShare(row: number[], nPrefix: number): number {
  return row.slice(0, nPrefix).reduce((s, p) => s + p, 0);
}

export function AblationView({ ablation, imageSrc }: { ablation: ModeAblation; imageSrc: string }) {
  const { grid, prefix_kinds: prefixKinds } = ablation;
  const keys = ablation.row_before.length;
  const query = patchLabel(ablation.query_patch, grid);
  const nPrefix = prefixKinds.length;
  const removed = ablation.removed.map((n) => `M${n}`).join(", ");
  const rowMoved = ablation.moved.flat()[ablation.query_patch] ?? 0;
  const scale = { kind: "attention", keys } as const;
  return (
    <div className="ablation-result">
      <p className="small">
        Removed {count(ablation.removed.length, "mode")} of {modeName(ablation.layer, ablation.head)}
        {ablation.keep_top !== null ? ` (all but the strongest ${ablation.keep_top} by σ)` : ""}: {removed}.
      </p>
      <h3>Attention of {query}, before and after</h3>
      <div className="two-col ablation-rows">
        {(["before", "after"] as const).map((when) => (
          <figure key={when}>
            <PatchHeatmap
              src={imageSrc}
              alt={`Attention of ${query} over the patches ${when} removing the modes`}
              grid={grid}
              values={when === "before" ? ablation.patch_before : ablation.patch_after}
              legend={`attention probability from ${query}, ${when} (one scale for both; prefix tokens left out)`}
              scale={scale}
              selected={ablation.query_patch}
              size={280}
            />
            <figcaption className="small">
              {when === "before" ? "The model as it is" : "With the modes removed"}
              {nPrefix > 0
                ? `: ${percent(prefixShare(when === "before" ? ablation.row_before : ablation.row_after, nPrefix))} to prefix tokens (${prefixKinds.join(", ")})`
                : ""}
              .
            </figcaption>
          </figure>
        ))}
      </div>
      <p className="small">
        Colours: probability against the uniform level 1/N on a log scale, the same for both maps. This row moved{" "}
        {fmt(rowMoved)} of its attention (½ Σ<sub>j</sub> |A<sub>ij</sub> − A′<sub>ij</sub>|, all keys).
      </p>
      <h3>Attention moved at every query patch</h3>
      <div className="two-col">
        <PatchHeatmap
          src={imageSrc}
          alt="Attention moved at each query patch when the modes are removed"
          grid={grid}
          values={ablation.moved}
          legend="attention moved at each query patch, ½ Σⱼ |Aᵢⱼ − A′ᵢⱼ| (0 = unchanged, 1 = moved entirely)"
          scale={{ kind: "unit" }}
          selected={ablation.query_patch}
          size={280}
        />
        <p className="small">
          Mean over the query patches: {fmt(ablation.mean_moved)}.
          {ablation.moved_prefix.map((m, i) => ` As a query, the ${prefixKinds[i] ?? "prefix"} token moved ${fmt(m)}.`)}
        </p>
      </div>
      <h3>The model&apos;s output</h3>
      <p className="small">
        Cosine between the model&apos;s pooled embeddings before and after: {fmt(ablation.embedding_cosine, 4)} (1 =
        unchanged).
        {ablation.random_weights ? " This model has random weights (its classifier too)." : ""}
      </p>
      {ablation.has_classifier ? (
        <div className="two-col">
          <ClassTable title="Top 5 before" classes={ablation.top_before} />
          <ClassTable title="Top 5 after" classes={ablation.top_after} />
        </div>
      ) : (
        <p className="muted small">This checkpoint has no classifier: only its embedding is compared.</p>
      )}
    </div>
  );
}

function ClassTable({ title, classes }: { title: string; classes: ClassChange[] }) {
  return (
    <div className="table-scroll">
      <table className="data-table ablation-classes">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Class</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {classes.map((c) => (
            <tr key={c.index}>
              <td>{c.label}</td>
              <td>{percent(c.before)}</td>
              <td>{percent(c.after)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
