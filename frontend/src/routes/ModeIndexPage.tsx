/**
 * Mode index: every signed mode of a model in one sortable, filterable, virtualized table. The sort
 * and the filters are the URL's query (lib/search/modeIndexView), so back/forward and links restore them;
 * the server sorts, filters and sends the rows a page at a time (components/search/ModeIndexTable).
 */
import { type ChangeEvent, type InputHTMLAttributes, useId } from "react";
import { HowToRead } from "../components/ui/HowToRead";
import { Link, useNavigate, useSearchParams } from "react-router";
import type { Basis, ModelSummary, Sign } from "../api/client";
import { useModeIndexHead } from "../api/useModeIndexRows";
import { Breadcrumbs } from "../components/layout/Breadcrumbs";
import { ModelGate } from "../components/layout/ModelGate";
import { NotFound } from "../components/layout/NotFound";
import { checkPosition, segmentFormats } from "../lib/address/modelAddress";
import { ModelTitle } from "../components/layout/ModelHeader";
import { ModeIndexTable } from "../components/search/ModeIndexTable";
import { SegmentedControl } from "../components/ui/SegmentedControl";
import { ErrorNotice, Loading } from "../components/ui/Status";
import {
  DEFAULT_MODE_INDEX_VIEW,
  type ModeIndexView,
  modeIndexQuery,
  modeIndexSearch,
  parseModeIndexView,
  toggleSort,
} from "../lib/search/modeIndexView";
import { modeIndexPath, modelPath } from "../lib/address/paths";
import { count, integer } from "../lib/common/format";
import { useDebouncedDraft } from "../lib/common/useDebouncedDraft";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import { pageTitle } from "../lib/common/pageTitles";

/** Wait after the last keystroke in a text filter before it reaches the URL. */
const FILTER_SETTLE_MS = 350;

export default function ModeIndexPage() {
  return <ModelGate>{({ summary }) => <CheckedModeIndex summary={summary} />}</ModelGate>;
}

/**
 * A `layer` or `head` filter the model does not have (`?layer=99`, `?head=x`) names no rows: said as
 * not found, with what exists and the index without that filter, rather than an empty table.
 */
function CheckedModeIndex({ summary }: { summary: ModelSummary }) {
  const [search] = useSearchParams();
  const view = parseModeIndexView(search);
  const malformed = (["layer", "head"] as const).find((key) => search.has(key) && view[key] === null);
  const outOfRange = checkPosition(summary, { layer: view.layer, head: view.head, mode: null });
  if (malformed === undefined && outOfRange === null) return <ModeIndex summary={summary} />;
  const problem = malformed
    ? `“${search.get(malformed) ?? ""}” is not a ${malformed} number.`
    : (outOfRange?.problem ?? "");
  const exists = malformed ? segmentFormats(summary) : (outOfRange?.exists ?? "");
  const without = {
    ...view,
    [malformed ?? (view.layer !== null && view.layer >= summary.n_layers ? "layer" : "head")]: null,
  };
  return (
    <NotFound
      title="No such filter"
      problem={`${problem} The mode index of ${summary.model_id} has no rows for it.`}
      exists={exists}
      links={[
        { label: "The mode index without this filter", to: modeIndexPath(summary.slug, modeIndexSearch(without)) },
        { label: `${summary.model_id}: all its heads`, to: modelPath(summary.slug) },
      ]}
    />
  );
}

/** What a three-way filter's select shows: any, only (true) or none (false). */
function triState(value: boolean | null): string {
  return value === null ? "" : String(value);
}

function parseTriState(value: string): boolean | null {
  return value === "" ? null : value === "true";
}

function ModeIndex({ summary }: { summary: ModelSummary }) {
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const view = parseModeIndexView(search);
  const model = summary.slug;
  useDocumentTitle(pageTitle.modeIndex(summary.model_id));
  // Every change of sort or filter is a step in the history: back undoes it.
  const setView = (next: ModeIndexView) => navigate(modeIndexPath(model, modeIndexSearch(next)));

  const head = useModeIndexHead(model, summary.revision, modeIndexQuery(view));
  const statisticsMissing =
    head.data?.statistics_missing ?? (summary.statistics.computed ? null : summary.statistics.note);
  const stats = statisticsMissing === null;
  const classes = stats && summary.statistics.n_classes > 0;
  const effectsMissing = head.data?.effects_missing ?? null;
  const filtered =
    modeIndexSearch({
      ...view,
      sort: DEFAULT_MODE_INDEX_VIEW.sort,
      order: DEFAULT_MODE_INDEX_VIEW.order,
      basis: "faithful",
    }) !== "";
  const label = `Signed modes of ${summary.model_id}`;

  return (
    <div className="mode-index-page">
      <Breadcrumbs
        items={[
          { label: "Models", to: "/" },
          { label: summary.model_id, to: modelPath(model) },
          { label: "Mode index" },
        ]}
      />
      <ModelTitle model={summary}>
        Mode index <span className="subtitle">{summary.model_id}</span>
      </ModelTitle>
      <HowToRead page="modeIndex" />
      <p className="muted">
        Every signed mode of the model: {count(summary.n_layers, "layer")} × {count(summary.n_heads, "head")} ×{" "}
        {count(summary.n_modes, "mode")} × 2 signs. Click a column&apos;s header to sort by it, again to reverse; open a
        mode by its name or its row. Scores follow the paper&apos;s rule (max P_U · max P_V); mean, std, fires on and
        selectivity are over every image of {summary.dataset.name}, and so is the attention moved (the share of each
        patch&apos;s attention row that removing the mode moves; one value per mode, both signs).
      </p>
      {statisticsMissing !== null ? (
        <div className="status status-empty" role="note">
          <strong>Per-mode statistics:</strong> {statisticsMissing}. Their columns show {"“—”"} and cannot be sorted or
          filtered.
        </div>
      ) : null}
      {effectsMissing !== null ? (
        <div className="status status-empty" role="note">
          <strong>Attention moved:</strong> {effectsMissing}. Its column shows {"“—”"} and cannot be sorted or filtered.
        </div>
      ) : null}
      <form className="filters" aria-label="Filter the modes" onSubmit={(e) => e.preventDefault()}>
        {summary.bases.length > 1 ? (
          <SegmentedControl<Basis>
            label="Basis"
            help="basis"
            value={view.basis}
            options={summary.bases.map((b) => ({ value: b, label: b }))}
            onChange={(basis) => setView({ ...view, basis })}
          />
        ) : null}
        <Select
          label="Layer"
          value={view.layer === null ? "" : String(view.layer)}
          onChange={(v) => setView({ ...view, layer: v === "" ? null : Number(v) })}
          options={[["", "any"], ...range(summary.n_layers).map((l): [string, string] => [String(l), `L${l}`])]}
        />
        <Select
          label="Head"
          value={view.head === null ? "" : String(view.head)}
          onChange={(v) => setView({ ...view, head: v === "" ? null : Number(v) })}
          options={[["", "any"], ...range(summary.n_heads).map((h): [string, string] => [String(h), `H${h}`])]}
        />
        <Select
          label="Sign"
          value={view.sign ?? ""}
          onChange={(v) => setView({ ...view, sign: v === "" ? null : (v as Sign) })}
          options={[
            ["", "both"],
            ["pos", "pos"],
            ["neg", "neg"],
          ]}
        />
        <Select
          label="Degenerate"
          value={triState(view.degenerate)}
          onChange={(v) => setView({ ...view, degenerate: parseTriState(v) })}
          options={[
            ["", "any"],
            ["true", "only degenerate"],
            ["false", "not degenerate"],
          ]}
        />
        {stats ? (
          <Select
            label="Fires"
            value={triState(view.neverFires)}
            onChange={(v) => setView({ ...view, neverFires: parseTriState(v) })}
            options={[
              ["", "any"],
              ["true", "never fires"],
              ["false", "fires on some image"],
            ]}
          />
        ) : null}
        {classes ? (
          <>
            <DebouncedInput
              label="Top class contains"
              type="search"
              value={view.topClass}
              onCommit={(topClass) => setView({ ...view, topClass })}
              size={14}
            />
            <DebouncedInput
              label="Selectivity ≥"
              type="number"
              step="0.1"
              value={view.minSelectivity === null ? "" : String(view.minSelectivity)}
              onCommit={(v) => {
                const number = v.trim() === "" ? null : Number(v);
                setView({ ...view, minSelectivity: number !== null && Number.isFinite(number) ? number : null });
              }}
              className="input-narrow"
            />
          </>
        ) : null}
        {effectsMissing === null ? (
          <DebouncedInput
            label="Attention moved ≥ (0 to 1)"
            type="number"
            step="0.01"
            min="0"
            max="1"
            value={view.minEffect === null ? "" : String(view.minEffect)}
            onCommit={(v) => {
              const number = v.trim() === "" ? null : Number(v);
              setView({ ...view, minEffect: number !== null && Number.isFinite(number) ? number : null });
            }}
            className="input-narrow"
          />
        ) : null}
        <label className="checkbox">
          <input
            type="checkbox"
            checked={view.includeInactive}
            onChange={(e) => setView({ ...view, includeInactive: e.target.checked })}
          />
          <span>include inactive (σ = 0)</span>
        </label>
        {filtered ? (
          <Link
            className="button button-small"
            to={modeIndexPath(
              model,
              modeIndexSearch({ ...DEFAULT_MODE_INDEX_VIEW, sort: view.sort, order: view.order, basis: view.basis }),
            )}
          >
            Clear filters
          </Link>
        ) : null}
      </form>
      {head.isError && !head.data ? <ErrorNotice message={head.error.message} /> : null}
      {head.data ? (
        <>
          <p className="index-count" aria-live="polite">
            {head.data.total === head.data.n_modes
              ? count(head.data.total, "signed mode")
              : `${integer(head.data.total)} of ${count(head.data.n_modes, "signed mode")}`}
            {view.includeInactive ? "" : " (inactive ones left out)"}
            {head.isPlaceholderData ? " — updating…" : ""}
          </p>
          {head.data.total === 0 && !head.isPlaceholderData ? (
            <div className="status status-empty">No mode passes these filters.</div>
          ) : (
            <ModeIndexTable
              model={model}
              revision={summary.revision}
              view={view}
              total={head.data.total}
              settled={!head.isPlaceholderData}
              statisticsMissing={statisticsMissing}
              effectsMissing={effectsMissing}
              label={label}
              onSort={(key) => setView(toggleSort(view, key))}
            />
          )}
        </>
      ) : head.isPending ? (
        <Loading label="Loading modes…" />
      ) : null}
    </div>
  );
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function Select({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: string;
  options: [value: string, label: string][];
  onChange: (value: string) => void;
}) {
  return (
    <label className="select">
      <span>{label}</span>
      <select value={value} onChange={(e: ChangeEvent<HTMLSelectElement>) => onChange(e.target.value)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A text or number filter: what is typed reaches the URL after a pause; the URL's value wins on back/forward. */
function DebouncedInput({
  label,
  value,
  onCommit,
  ...input
}: {
  label: string;
  value: string;
  onCommit: (value: string) => void;
} & Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange">) {
  const id = useId();
  // The URL's value wins on back/forward and links.
  const [draft, edit] = useDebouncedDraft({ text: value }, ({ text }) => onCommit(text), FILTER_SETTLE_MS);
  return (
    <label className="select" htmlFor={id}>
      <span>{label}</span>
      <input id={id} {...input} value={draft.text} onChange={(e) => edit({ text: e.target.value })} />
    </label>
  );
}
