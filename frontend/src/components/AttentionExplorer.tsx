/**
 * Exact basis: pick a query patch on the user's image to see its real attention row over the
 * patches, and which modes drive it (see lib/attention for the rule).
 */
import { Link } from "react-router";
import type { AttentionSplit } from "../api/client";
import { apiQuery, useLoadable } from "../api/queries";
import { modeDrives, patchCoords } from "../lib/attention";
import { fmt, modeName } from "../lib/format";
import { modePath } from "../lib/paths";
import { PatchHeatmap } from "./PatchHeatmap";
import { Loaded } from "./Status";

export interface AttentionTarget {
  uploadId: string;
  model: string;
  layer: number;
  head: number;
  grid: number;
  imageSrc: string;
}

const SHOWN_DRIVES = 6;

export function AttentionExplorer({
  target,
  patch,
  onPick,
}: {
  target: AttentionTarget;
  patch: number | null;
  onPick: (patch: number) => void;
}) {
  return (
    <section aria-labelledby="attention-heading" className="attention-explorer">
      <h2 id="attention-heading">Attention of one patch</h2>
      <p className="muted">
        Click a patch (or focus the image and use the arrow keys and Enter) to see where it attends in this head, and
        which modes pull its attention there.
      </p>
      <div className="two-col">
        <PatchHeatmap
          src={target.imageSrc}
          alt="Your image as the model sees it, with a patch grid for choosing a query patch"
          grid={target.grid}
          selected={patch}
          onPick={onPick}
        />
        {patch === null ? (
          <p className="muted">No patch chosen yet.</p>
        ) : (
          <AttentionRow target={target} patch={patch} />
        )}
      </div>
    </section>
  );
}

function AttentionRow({ target, patch }: { target: AttentionTarget; patch: number }) {
  const { uploadId, model, layer, head } = target;
  const split = useLoadable(
    apiQuery("/api/uploads/{upload_id}/models/{model}/layers/{layer}/heads/{head}/attention", {
      path: { upload_id: uploadId, model, layer, head },
      query: { query_patch: patch },
    }),
  );
  return (
    <Loaded state={split} label="Computing the attention row…">
      {(s) => <AttentionView split={s} target={target} />}
    </Loaded>
  );
}

function AttentionView({ split, target }: { split: AttentionSplit; target: AttentionTarget }) {
  const { row, col } = patchCoords(split.query_patch, split.grid);
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
        alt={`Attention of the patch at row ${row + 1}, column ${col + 1} over the patches (magenta: more attention)`}
        grid={split.grid}
        values={split.patch_attention}
        selected={split.query_patch}
      />
      <p className="small">
        Query patch row {row + 1}, column {col + 1}.
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
