import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  addMode,
  type DraftList,
  type DraftMode,
  draftProblem,
  EMPTY_DRAFT,
  listRequest,
  MAX_LIST_MODES,
  MAX_LIST_NOTE,
  MAX_LIST_TITLE,
  moveMode,
  parseDraft,
  removeMode,
  saveDraft,
  setNote,
} from "./draftList";

const mode = (n: number, overrides: Partial<DraftMode> = {}): DraftMode => ({
  model: "planted__shapes",
  modelId: "planted-vit",
  layer: 1,
  head: 0,
  mode: n,
  sign: "pos",
  basis: "faithful",
  note: "",
  ...overrides,
});
const modes = (draft: DraftList) => draft.modes.map((m) => `${m.mode}${m.sign}${m.note ? `:${m.note}` : ""}`);

afterEach(() => localStorage.clear());

describe("draft list", () => {
  it("adds each signed mode once per basis: adding it again replaces its note", () => {
    let draft = addMode(EMPTY_DRAFT, mode(0, { note: "red" }));
    draft = addMode(draft, mode(0, { sign: "neg" }));
    draft = addMode(draft, mode(0, { basis: "exact" }));
    draft = addMode(draft, mode(0, { model: "dino__shapes", modelId: "facebook/dino-vits16" }));
    draft = addMode(draft, mode(0, { note: "cyan" }));
    expect(draft.modes).toHaveLength(4);
    expect(draft.modes[0]!.note).toBe("cyan");
  });

  it("stops at the server's limit", () => {
    let draft = EMPTY_DRAFT;
    for (let n = 0; n < MAX_LIST_MODES + 3; n++) draft = addMode(draft, mode(n));
    expect(draft.modes).toHaveLength(MAX_LIST_MODES);
    expect(draft.modes.at(-1)!.mode).toBe(MAX_LIST_MODES - 1);
  });

  it("reorders, removes and annotates by position, staying inside the list", () => {
    const draft: DraftList = { title: "t", modes: [mode(0), mode(1), mode(2)] };
    expect(modes(moveMode(draft, 2, -1))).toEqual(["0pos", "2pos", "1pos"]);
    expect(modes(moveMode(draft, 0, 1))).toEqual(["1pos", "0pos", "2pos"]);
    expect(moveMode(draft, 0, -1)).toBe(draft);
    expect(moveMode(draft, 2, 5)).toBe(draft);
    expect(modes(removeMode(draft, 1))).toEqual(["0pos", "2pos"]);
    expect(modes(setNote(draft, 2, "eyes"))).toEqual(["0pos", "1pos", "2pos:eyes"]);
  });

  it("says why it cannot be shared yet", () => {
    expect(draftProblem(EMPTY_DRAFT)).toMatch(/Add a mode/);
    expect(draftProblem({ title: "  ", modes: [mode(0)] })).toMatch(/title/);
    expect(draftProblem({ title: "x".repeat(MAX_LIST_TITLE + 1), modes: [mode(0)] })).toMatch(/longer/);
    expect(draftProblem({ title: "t", modes: [mode(0), mode(1, { note: "n".repeat(MAX_LIST_NOTE + 1) })] })).toBe(
      `The note of mode 2 is longer than ${MAX_LIST_NOTE} characters.`,
    );
    expect(draftProblem({ title: "t", modes: [mode(0)] })).toBeNull();
  });

  it("posts the modes by atlas slug with trimmed text", () => {
    expect(listRequest({ title: " Eyes ", modes: [mode(3, { sign: "neg", note: " look " })] })).toEqual({
      title: "Eyes",
      modes: [{ model: "planted__shapes", layer: 1, head: 0, mode: 3, sign: "neg", basis: "faithful", note: "look" }],
    });
  });

  it("is kept in localStorage, and what something else stored there is dropped", () => {
    saveDraft({ title: "kept", modes: [mode(1)] });
    expect(parseDraft(localStorage.getItem("qkatlas-draft-list"))).toEqual({ title: "kept", modes: [mode(1)] });
    const junk = JSON.stringify({
      title: 5,
      modes: [mode(2), { ...mode(3), sign: "up" }, { ...mode(4), layer: -1 }, null],
    });
    expect(parseDraft(junk)).toEqual({ title: "", modes: [mode(2)] });
    expect(parseDraft("not json")).toEqual(EMPTY_DRAFT);
    expect(parseDraft(null)).toEqual(EMPTY_DRAFT);
  });

  it("has the limits the API states", () => {
    const api = JSON.parse(readFileSync("../backend/openapi.json", "utf8")) as {
      components: { schemas: Record<string, { properties: Record<string, Record<string, number>> }> };
    };
    const { ModeListIn, ListModeIn } = api.components.schemas;
    expect(ModeListIn!.properties.modes!.maxItems).toBe(MAX_LIST_MODES);
    expect(ModeListIn!.properties.title!.maxLength).toBe(MAX_LIST_TITLE);
    expect(ListModeIn!.properties.note!.maxLength).toBe(MAX_LIST_NOTE);
  });
});
