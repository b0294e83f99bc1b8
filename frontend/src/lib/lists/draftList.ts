/**
 * The draft of a shared list: modes collected from any served models, each with a note, kept in this
 * browser (localStorage) across pages and models until "Share list" posts it (`POST /api/lists`), which
 * makes an immutable list of it. Pure functions of the draft, and `useDraftList` for the pages.
 */
import { useSyncExternalStore } from "react";
import type { Basis, Schemas, Sign } from "../../api/client";
import { BASES, SIGNS } from "../../api/enums";

/** The server's limits (backend/schemas.py; a test holds them to backend/openapi.json). */
export const MAX_LIST_MODES = 24;
export const MAX_LIST_TITLE = 120;
export const MAX_LIST_NOTE = 280;

const STORAGE_KEY = "qkatlas-draft-list";

export interface DraftMode {
  /** Atlas slug. */
  model: string;
  /** The model's id, as the list shows it. */
  modelId: string;
  layer: number;
  head: number;
  mode: number;
  sign: Sign;
  basis: Basis;
  note: string;
}

export interface DraftList {
  title: string;
  modes: DraftMode[];
}

export const EMPTY_DRAFT: DraftList = { title: "", modes: [] };

/** Two entries name the same signed mode in the same basis (a list holds each once). */
export function sameMode(a: DraftMode, b: DraftMode): boolean {
  return (
    a.model === b.model &&
    a.layer === b.layer &&
    a.head === b.head &&
    a.mode === b.mode &&
    a.sign === b.sign &&
    a.basis === b.basis
  );
}

/** The draft with `mode` added at the end, or with the note of the same mode replaced where it is already
 * in; unchanged when it is full. */
export function addMode(draft: DraftList, mode: DraftMode): DraftList {
  const at = draft.modes.findIndex((m) => sameMode(m, mode));
  if (at >= 0) return { ...draft, modes: draft.modes.map((m, i) => (i === at ? { ...m, note: mode.note } : m)) };
  if (draft.modes.length >= MAX_LIST_MODES) return draft;
  return { ...draft, modes: [...draft.modes, mode] };
}

export function removeMode(draft: DraftList, index: number): DraftList {
  return { ...draft, modes: draft.modes.filter((_, i) => i !== index) };
}

/** The draft with the entry at `index` moved by `delta` places (kept inside the list). */
export function moveMode(draft: DraftList, index: number, delta: number): DraftList {
  const to = Math.min(draft.modes.length - 1, Math.max(0, index + delta));
  if (index < 0 || index >= draft.modes.length || to === index) return draft;
  const modes = [...draft.modes];
  const [moved] = modes.splice(index, 1);
  if (moved === undefined) return draft;
  modes.splice(to, 0, moved);
  return { ...draft, modes };
}

export function setNote(draft: DraftList, index: number, note: string): DraftList {
  return { ...draft, modes: draft.modes.map((m, i) => (i === index ? { ...m, note } : m)) };
}

/** Why the draft cannot be shared yet, or null when it can (the server checks the rest). */
export function draftProblem(draft: DraftList): string | null {
  if (draft.modes.length === 0) return "Add a mode first (“Add to list” on a mode page).";
  if (draft.title.trim() === "") return "Give the list a title.";
  if (draft.title.length > MAX_LIST_TITLE) return `The title is longer than ${MAX_LIST_TITLE} characters.`;
  const long = draft.modes.findIndex((m) => m.note.length > MAX_LIST_NOTE);
  if (long >= 0) return `The note of mode ${long + 1} is longer than ${MAX_LIST_NOTE} characters.`;
  return null;
}

/** The body of `POST /api/lists`. */
export function listRequest(draft: DraftList): Schemas["ModeListIn"] {
  return {
    title: draft.title.trim(),
    modes: draft.modes.map(({ model, layer, head, mode, sign, basis, note }) => ({
      model,
      layer,
      head,
      mode,
      sign,
      basis,
      note: note.trim(),
    })),
  };
}

const isIndex = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= 0;

function isDraftMode(value: unknown): value is DraftMode {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.model === "string" &&
    typeof m.modelId === "string" &&
    isIndex(m.layer) &&
    isIndex(m.head) &&
    isIndex(m.mode) &&
    SIGNS.includes(m.sign as Sign) &&
    BASES.includes(m.basis as Basis) &&
    typeof m.note === "string"
  );
}

/** The stored draft; entries written by something else are dropped. */
export function parseDraft(raw: string | null): DraftList {
  try {
    const parsed: unknown = JSON.parse(raw ?? "null");
    if (typeof parsed !== "object" || parsed === null) return EMPTY_DRAFT;
    const { title, modes } = parsed as Record<string, unknown>;
    return {
      title: typeof title === "string" ? title : "",
      modes: Array.isArray(modes) ? modes.filter(isDraftMode).slice(0, MAX_LIST_MODES) : [],
    };
  } catch {
    return EMPTY_DRAFT;
  }
}

// The store: one snapshot per stored string, so React sees a stable value between changes.
const listeners = new Set<() => void>();
let snapshot: { raw: string | null; draft: DraftList } = { raw: null, draft: EMPTY_DRAFT };

function readRaw(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return snapshot.raw; // storage unavailable (private mode): the draft lasts for this page only
  }
}

function current(): DraftList {
  const raw = readRaw();
  if (raw !== snapshot.raw) snapshot = { raw, draft: parseDraft(raw) };
  return snapshot.draft;
}

/** Stores `draft` and tells every page showing it. */
export function saveDraft(draft: DraftList): void {
  const raw = JSON.stringify(draft);
  try {
    localStorage.setItem(STORAGE_KEY, raw);
  } catch {
    /* storage unavailable: kept in memory below */
  }
  snapshot = { raw, draft };
  listeners.forEach((listener) => listener());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // Another tab changed the draft.
  const onStorage = (event: StorageEvent) => {
    if (event.key === STORAGE_KEY) listener();
  };
  window.addEventListener("storage", onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", onStorage);
  };
}

/** The draft and a function to change it (`update(addMode, mode)` etc.). */
export function useDraftList(): [DraftList, (change: (draft: DraftList) => DraftList) => void] {
  const draft = useSyncExternalStore(subscribe, current, () => EMPTY_DRAFT);
  return [draft, (change) => saveDraft(change(current()))];
}
