/**
 * Pick a query patch on the user's image to see its real attention row over the patches, and which
 * modes drive it (see lib/upload/attention for the rule). The split into modes is exact only in the exact
 * basis (docs/method.md#edge-split-in-the-exact-basis), so the page moves to that basis when a patch
 * is picked in the faithful one; the explorer says so where the row appears.
 */
import { useEffect, useRef } from "react";
import { Link, useLocation } from "react-router";
import type { AttentionSplit, Basis } from "../../api/client";
import { useAttentionSplit } from "../../api/resources";
import { modeDrives, patchLabel } from "../../lib/upload/attention";
import { rowSpread } from "../../lib/upload/attentionScale";
import { fmt, integer, modeName } from "../../lib/common/format";
import { modePath } from "../../lib/address/paths";
import { HelpTip } from "../ui/HelpTip";
import { PatchHeatmap } from "./PatchHeatmap";
import { Loaded } from "../ui/Status";

export interface AttentionTarget {
  uploadId: string;
  model: string;
  layer: number;
  head: number;
  grid: number;
  imageSrc: string;
}

const SHOWN_DRIVES = 6;

/** The address fragment that scrolls the upload page to the explorer (and focuses its patch picker). */
export const EXPLORER_FRAGMENT = "attention";

export const EXACT_BASIS_REASON =
  "Switched to the exact basis: only there do the modes add up exactly to this head's attention logits, so only there can a patch's attention row be split into modes.";

export function AttentionExplorer({
  target,
  basis,
  hasExactBasis,
  switchedToExact,
  patch,
  onPick,
}: {
  target: AttentionTarget;
  /** The basis the page shows; picking a patch in the faithful one moves the page to the exact one. */
  basis: Basis;
  /** Whether the atlas has the exact basis, without which no attention row can be split. */
  hasExactBasis: boolean;
  /** The page moved to the exact basis because a patch was picked here: say why. */
  switchedToExact: boolean;
  patch: number | null;
  onPick: (patch: number) => void;
}) {
  const location = useLocation();
  const picker = useRef<HTMLDivElement>(null);
  const linkedHere = location.hash === `#${EXPLORER_FRAGMENT}`;
  useEffect(() => {
    if (!linkedHere) return;
    picker.current?.scrollIntoView({ block: "start" });
    picker.current?.querySelector<SVGElement>("[role=application]")?.focus({ preventScroll: true });
  }, [linkedHere]);
  return (
    <section aria-labelledby="attention-heading" className="attention-explorer" id={EXPLORER_FRAGMENT}>
      <h2 id="attention-heading">Attention of one patch</h2>
      {hasExactBasis ? (
        <>
          <p className="muted">
            Click a patch (or focus the image and use the arrow keys and Enter) to see where it attends in this head,
            and which modes pull its attention there.
            {basis === "faithful"
              ? " Picking a patch moves this page to the exact basis, the only one in which the modes split the row exactly."
              : ""}
            <HelpTip term="exact" />
          </p>
          <div className="two-col" ref={picker}>
            <PatchHeatmap
              src={target.imageSrc}
              alt="The image as the model sees it, with a patch grid for choosing a query patch"
              grid={target.grid}
              selected={patch}
              onPick={onPick}
            />
            <div>
              {switchedToExact && basis === "exact" ? (
                <p className="status status-note" role="status">
                  {EXACT_BASIS_REASON}
                </p>
              ) : null}
              {patch === null || basis !== "exact" ? (
                <p className="muted">No patch chosen yet.</p>
              ) : (
                <AttentionRow target={target} patch={patch} />
              )}
            </div>
          </div>
        </>
      ) : (
        <p className="muted">
          This atlas was built without the exact basis, so attention rows cannot be split into modes here.
        </p>
      )}
    </section>
  );
}

function AttentionRow({ target, patch }: { target: AttentionTarget; patch: number }) {
  const { uploadId, model, layer, head } = target;
  const split = useAttentionSplit(uploadId, model, layer, head, patch);
  return (
    <Loaded state={split} label="Computing the attention row…">
      {(s) => <AttentionView split={s} target={target} />}
    </Loaded>
  );
}

function AttentionView({ split, target }: { split: AttentionSplit; target: AttentionTarget }) {
  const query = patchLabel(split.query_patch, split.grid);
  const spread = rowSpread(split.attention);
  const nPrefix = split.prefix_kinds.length;
  const prefixShare = split.attention.slice(0, nPrefix).reduce((s, a) => s + a, 0);
  const drives = modeDrives(split.attention, split.modes).slice(0, SHOWN_DRIVES);
  const shared = modeDrives(split.attention, [{ mode: -1, logits: split.key_term }])[0]?.drive ?? 0;
  const largest = Math.max(1e-12, ...drives.map((d) => Math.abs(d.drive)), Math.abs(shared));
  const error = Math.max(...split.attention.map((a, j) => Math.abs(a - (split.reconstructed[j] ?? 0))));
  return (
    <div className="attention-row">
      <PatchHeatmap
        src={target.imageSrc}
        alt={`Attention of ${query} over the patches (magenta: more than uniform, darkened: less)`}
        grid={split.grid}
        values={split.patch_attention}
        legend="attention probability from the selected query patch (prefix tokens left out)"
        scale={{ kind: "attention", keys: spread.keys }}
        selected={split.query_patch}
      />
      <p className="small row-spread">
        Entropy {fmt(spread.entropy, 2)} nats (uniform: ln N = {fmt(Math.log(spread.keys), 2)}); effective number of
        keys exp(H) = {fmt(spread.effectiveKeys, 1)} of N = {integer(spread.keys)}
        {nPrefix > 0 ? " (prefix tokens included)" : ""}.
        <HelpTip term="effectiveKeys" /> Colours: probability against the uniform level 1/N, on a log scale.
        <HelpTip term="attentionScale" />
      </p>
      <p className="small">
        Query {query}, counted from 0 at the top left as in the address.
        {nPrefix > 0
          ? ` ${fmt(prefixShare * 100, 1)} % of its attention goes to prefix tokens (${split.prefix_kinds.join(", ")}).`
          : ""}{" "}
        The modes rebuild this row to within {fmt(error)} (largest difference).
      </p>
      <h3>Modes driving this row</h3>
      <p className="muted small">
        Σ<sub>j</sub> a<sub>j</sub> (l<sub>n</sub>[j] − mean l<sub>n</sub>): how much mode n raises the logits of the
        keys this patch attends to. The modes split the logits exactly; the part every query shares (the head&apos;s key
        salience) is included in them and shown on its own below.
      </p>
      <ol className="drive-list">
        {drives.map((d) => (
          <li key={d.mode}>
            <Link to={modePath(split.model, split.layer, split.head, d.mode, { sign: "pos", basis: "exact" })}>
              {modeName(split.layer, split.head, d.mode)}
            </Link>
            <DriveBar value={d.drive} largest={largest} />
          </li>
        ))}
        <li>
          <span>shared key term</span>
          <DriveBar value={shared} largest={largest} />
        </li>
      </ol>
    </div>
  );
}

function DriveBar({ value, largest }: { value: number; largest: number }) {
  const width = `${(50 * Math.abs(value)) / largest}%`;
  return (
    <span className="drive">
      <span className="drive-track" aria-hidden="true">
        <span className={value >= 0 ? "drive-pos" : "drive-neg"} style={{ width }} />
      </span>
      <span className="drive-value">{fmt(value)}</span>
    </span>
  );
}
