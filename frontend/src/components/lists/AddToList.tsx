/**
 * "Add to list" on a mode page: puts the signed mode (in the basis shown) with an optional note into this
 * browser's draft list (lib/lists/draftList), which the draft page (`/lists`) shares as one link.
 */
import { useState } from "react";
import { Link } from "react-router";
import { listsPath } from "../../lib/address/paths";
import { count } from "../../lib/common/format";
import {
  addMode,
  type DraftMode,
  MAX_LIST_MODES,
  MAX_LIST_NOTE,
  sameMode,
  useDraftList,
} from "../../lib/lists/draftList";

export function AddToList({ mode }: { mode: Omit<DraftMode, "note"> }) {
  const [draft, update] = useDraftList();
  const listed = draft.modes.find((m) => sameMode(m, { ...mode, note: "" }));
  const [note, setNote] = useState(listed?.note ?? "");
  const full = listed === undefined && draft.modes.length >= MAX_LIST_MODES;
  return (
    <form
      className="add-to-list"
      aria-label="Add this mode to your list"
      onSubmit={(event) => {
        event.preventDefault();
        update((d) => addMode(d, { ...mode, note }));
      }}
    >
      <label>
        <span className="visually-hidden">Note for the list (optional)</span>
        <input
          type="text"
          value={note}
          maxLength={MAX_LIST_NOTE}
          placeholder="Note (optional), e.g. face → eyes"
          onChange={(event) => setNote(event.target.value)}
        />
      </label>
      <button type="submit" className="button" disabled={full || (listed !== undefined && listed.note === note)}>
        {listed === undefined ? "Add to list" : "Update note"}
      </button>
      <span role="status" aria-live="polite" className="small muted">
        {full
          ? `Your list is full (${MAX_LIST_MODES} modes).`
          : listed !== undefined
            ? "In your list."
            : draft.modes.length > 0
              ? `Your list: ${count(draft.modes.length, "mode")}.`
              : ""}{" "}
        {draft.modes.length > 0 ? <Link to={listsPath()}>Open your list</Link> : null}
      </span>
    </form>
  );
}
