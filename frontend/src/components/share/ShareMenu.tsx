/**
 * The Share menu of a mode or head page: its permalink (sign and basis written out, so it reopens exactly
 * this view), an embed snippet with the parts to show, and its citation (a line, and the software's BibTeX
 * entry from `CITATION.cff`), each with a copy button.
 */
import { useId, useRef, useState } from "react";
import { useLoadable, apiQuery } from "../../api/queries";
import { type CitedPosition, citationLine } from "../../lib/cite/citation";
import type { ModelSummary } from "../../api/client";
import { EMBED_PART_LABELS, type EmbedPart, embedSearch } from "../../lib/embed/embedOptions";
import { CopyField } from "./CopyField";

/** The iframe's width, and its height for each part shown (a guess the embedder adjusts). */
const EMBED_WIDTH = 720;
const EMBED_BASE_HEIGHT = 120;
const EMBED_PART_HEIGHT: Record<EmbedPart, number> = {
  badge: 60,
  try: 160,
  top: 520,
  distribution: 420,
  classes: 360,
  samples: 480,
  spectrum: 380,
  modes: 600,
};

export interface ShareTarget {
  /** The page's canonical address: path and query (`/m/…/L3/H2/M0?sign=pos&basis=faithful`). */
  address: string;
  /** What the iframe shows, for its `title` (read by screen readers). */
  title: string;
  /** The page's embeddable parts (lib/embed). */
  parts: readonly EmbedPart[];
  model: Pick<ModelSummary, "model_id" | "weights_revision" | "revision" | "dataset">;
  position: CitedPosition;
}

export function ShareMenu({ target }: { target: ShareTarget }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const panelId = useId();
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  return (
    <div className="share">
      <button
        ref={button}
        type="button"
        className="button"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}
      >
        Share and cite
      </button>
      {open ? (
        <div
          id={panelId}
          className="share-panel"
          role="region"
          aria-label="Share and cite"
          onKeyDown={(event) => {
            if (event.key === "Escape") {
              event.preventDefault();
              close();
            }
          }}
        >
          <SharePanel target={target} />
          <button type="button" className="button share-close" onClick={close}>
            Close
          </button>
        </div>
      ) : null}
    </div>
  );
}

function SharePanel({ target }: { target: ShareTarget }) {
  const [shown, setShown] = useState<readonly EmbedPart[]>(target.parts);
  const software = useLoadable(apiQuery("/api/citation", {}));
  const origin = window.location.origin;
  const permalink = `${origin}${target.address}`;
  const [path = "", query = ""] = target.address.split("?", 2);
  const src = `${origin}${path}${embedSearch(query, shown, target.parts)}`;
  const height = EMBED_BASE_HEIGHT + shown.reduce((sum, part) => sum + EMBED_PART_HEIGHT[part], 0);
  const snippet =
    `<iframe src="${attribute(src)}" width="${EMBED_WIDTH}" height="${height}" title="${attribute(target.title)}" ` +
    `loading="lazy" style="max-width: 100%; border: 0"></iframe>`;
  const cited = software.status === "ok" ? software.data : null;
  const line = citationLine({ ...target.position, model: target.model }, permalink, new Date(), cited);
  const toggle = (part: EmbedPart, on: boolean) =>
    setShown((now) => target.parts.filter((p) => (p === part ? on : now.includes(p))));
  return (
    <>
      <CopyField label="Link to this view" value={permalink} rows={2} />
      <fieldset className="share-parts">
        <legend>Embed: parts to show</legend>
        {target.parts.map((part) => (
          <label key={part} className="checkbox">
            <input type="checkbox" checked={shown.includes(part)} onChange={(e) => toggle(part, e.target.checked)} />{" "}
            {EMBED_PART_LABELS[part]}
          </label>
        ))}
      </fieldset>
      <CopyField label="Embed snippet" value={snippet} rows={5} />
      <CopyField label="Citation" value={line} rows={5} />
      {software.status === "ok" ? (
        <CopyField label="BibTeX of the software" value={software.data.bibtex} rows={7} />
      ) : software.status === "error" ? (
        <p className="muted small">BibTeX of the software unavailable: {software.message}</p>
      ) : null}
    </>
  );
}

/** `value` safe inside a double-quoted HTML attribute. */
function attribute(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}
