/**
 * The draft list of this browser: the modes collected with "Add to list", to reorder, annotate and title,
 * then "Share list", which stores it on the server (immutable: a later edit makes a new list) and gives
 * its link.
 */
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import { apiErrorMessage } from "../api/errors";
import { Empty, ErrorNotice } from "../components/ui/Status";
import { listPath, modePath } from "../lib/address/paths";
import { count, modeName } from "../lib/common/format";
import { pageTitle } from "../lib/common/pageTitles";
import { useDocumentTitle } from "../lib/common/useDocumentTitle";
import {
  type DraftList,
  draftProblem,
  EMPTY_DRAFT,
  listRequest,
  MAX_LIST_NOTE,
  MAX_LIST_TITLE,
  moveMode,
  removeMode,
  setNote,
  useDraftList,
} from "../lib/lists/draftList";

type Sharing =
  | { status: "idle" }
  | { status: "sending" }
  | { status: "shared"; id: string; of: DraftList }
  | { status: "error"; message: string };

export default function ListsPage() {
  useDocumentTitle(pageTitle.lists());
  const [draft, update] = useDraftList();
  const [sharing, setSharing] = useState<Sharing>({ status: "idle" });
  const problem = draftProblem(draft);
  // The link shown is the draft's as it was shared: an edit since makes it stale.
  const shared = sharing.status === "shared" && sharing.of === draft ? sharing : null;

  const share = async () => {
    setSharing({ status: "sending" });
    try {
      const { data, error, response } = await api.POST("/api/lists", { body: listRequest(draft) });
      setSharing(
        data
          ? { status: "shared", id: data.id, of: draft }
          : { status: "error", message: apiErrorMessage(error, response.status) },
      );
    } catch {
      setSharing({ status: "error", message: apiErrorMessage(undefined) });
    }
  };

  return (
    <>
      <h1>Your list</h1>
      <p className="muted">
        Modes you add with “Add to list” on a mode page, from any model, are kept in this browser until you share them.
        A shared list is one link that shows its modes side by side; it never changes (editing it here and sharing again
        makes a new link).
      </p>
      {draft.modes.length === 0 ? (
        <Empty>Your list is empty: open a mode and use “Add to list”.</Empty>
      ) : (
        <>
          <label className="list-title-field">
            Title
            <input
              type="text"
              value={draft.title}
              maxLength={MAX_LIST_TITLE}
              placeholder="e.g. Face → eyes in three models"
              onChange={(event) => {
                const title = event.target.value;
                update((d) => ({ ...d, title }));
              }}
            />
          </label>
          <ol className="draft-list" aria-label={`Modes of your list (${count(draft.modes.length, "mode")})`}>
            {draft.modes.map((m, index) => {
              const name = `${modeName(m.layer, m.head, m.mode)} ${m.sign}`;
              return (
                <li key={`${m.model}/${m.layer}/${m.head}/${m.mode}/${m.sign}/${m.basis}`} className="draft-mode">
                  <div className="draft-mode-name">
                    <Link to={modePath(m.model, m.layer, m.head, m.mode, m)}>{name}</Link>{" "}
                    <span className="muted">
                      {m.basis} basis · {m.modelId}
                    </span>
                  </div>
                  <label>
                    <span className="visually-hidden">Note for {name}</span>
                    <input
                      type="text"
                      value={m.note}
                      maxLength={MAX_LIST_NOTE}
                      placeholder="Note (optional)"
                      onChange={(event) => {
                        const note = event.target.value;
                        update((d) => setNote(d, index, note));
                      }}
                    />
                  </label>
                  <span className="draft-mode-actions">
                    <button
                      type="button"
                      className="button"
                      aria-label={`Move ${name} up`}
                      disabled={index === 0}
                      onClick={() => update((d) => moveMode(d, index, -1))}
                    >
                      ↑
                    </button>
                    <button
                      type="button"
                      className="button"
                      aria-label={`Move ${name} down`}
                      disabled={index === draft.modes.length - 1}
                      onClick={() => update((d) => moveMode(d, index, 1))}
                    >
                      ↓
                    </button>
                    <button
                      type="button"
                      className="button"
                      aria-label={`Remove ${name}`}
                      onClick={() => update((d) => removeMode(d, index))}
                    >
                      Remove
                    </button>
                  </span>
                </li>
              );
            })}
          </ol>
          <div className="toolbar">
            <button
              type="button"
              className="button button-primary"
              disabled={problem !== null || sharing.status === "sending"}
              onClick={() => void share()}
            >
              {sharing.status === "sending" ? "Sharing…" : "Share list"}
            </button>
            <button type="button" className="button" onClick={() => update(() => EMPTY_DRAFT)}>
              Clear list
            </button>
            {problem ? <span className="muted small">{problem}</span> : null}
          </div>
          {shared ? <SharedLink id={shared.id} /> : null}
          {sharing.status === "error" ? (
            <ErrorNotice title="The list could not be shared" message={sharing.message} />
          ) : null}
        </>
      )}
    </>
  );
}

function SharedLink({ id }: { id: string }) {
  const path = listPath(id);
  const url = `${window.location.origin}${path}`;
  const [copied, setCopied] = useState("");
  return (
    <div className="status status-ok shared-list-link" role="status">
      <strong>Shared.</strong> Its link: <Link to={path}>{url}</Link>{" "}
      <button
        type="button"
        className="button"
        onClick={() =>
          void navigator.clipboard.writeText(url).then(
            () => setCopied("Link copied."),
            () => setCopied("Copy the link above."),
          )
        }
      >
        Copy link
      </button>{" "}
      <span aria-live="polite">{copied}</span>
    </div>
  );
}
