import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { ListedMode, ModeList } from "../api/client";
import { modeDetail, modelSummary } from "../test/fixtures";
import { currentUrl, mockApi, renderAt } from "../test/mockApi";

const LIST_ID = "abcdefghijklmnopqrstuvwxyz";

function listed(overrides: Partial<ListedMode> = {}): ListedMode {
  return {
    model: "planted__shapes",
    model_id: "planted-vit",
    revision: "0123456789abcdef",
    layer: 1,
    head: 2,
    mode: 1,
    sign: "pos",
    basis: "faithful",
    note: "red → cyan",
    atlas: "current",
    current_revision: "0123456789abcdef",
    ...overrides,
  };
}

const LIST: ModeList = {
  id: LIST_ID,
  title: "Face → eyes in three models",
  modes: [
    listed(),
    listed({
      model: "dino__shapes",
      model_id: "facebook/dino-vits16",
      sign: "neg",
      note: "",
      atlas: "rebuilt",
      current_revision: "fedcba9876543210",
    }),
    listed({
      model: "gone__shapes",
      model_id: "gone-vit",
      atlas: "not_served",
      current_revision: null,
      note: "was here",
    }),
  ],
};

afterEach(() => localStorage.clear());

describe("shared list page", () => {
  it("shows the modes side by side with their notes, σ and top images, and says which atlases changed", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary({ planted: true }), modelSummary({ slug: "dino__shapes" })] },
      [`/api/lists/${LIST_ID}`]: { body: LIST },
      "/api/models/planted__shapes/layers/1/heads/2/modes/1": { body: modeDetail({ sigma: 3 }) },
      "/api/models/dino__shapes/layers/1/heads/2/modes/1": {
        body: modeDetail({ model: "dino__shapes", sign: "neg", sigma: 1.25 }),
      },
    });
    renderAt(`/lists/${LIST_ID}`);
    expect(await screen.findByRole("heading", { level: 1, name: LIST.title })).toBeTruthy();
    const columns = within(screen.getByRole("list", { name: "Modes of the list" })).getAllByRole("listitem", {
      name: /·/,
    });
    expect(columns.map((c) => c.getAttribute("aria-label"))).toEqual([
      "L1 H2 M1 pos · planted-vit",
      "L1 H2 M1 neg · facebook/dino-vits16",
      "L1 H2 M1 pos · gone-vit",
    ]);
    const [planted, dino, gone] = columns.map((c) => within(c));
    expect(planted!.getByRole("link", { name: "L1 H2 M1 pos" }).getAttribute("href")).toBe(
      "/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful",
    );
    expect(planted!.getByText("red → cyan")).toBeTruthy();
    expect(await planted!.findByText("3.000")).toBeTruthy();
    expect(planted!.getAllByRole("img", { name: /top image/ })).toHaveLength(2);
    // The planted model's cards show the photo beside the overlay, as its mode page does; others do not.
    expect(await planted!.findAllByRole("img", { name: /as the model saw it/ })).toHaveLength(2);
    expect(planted!.queryByRole("note")).toBeNull();
    expect(await dino!.findByText("1.250")).toBeTruthy();
    expect(dino!.getByRole("note").textContent).toContain("Rebuilt since");
    expect(dino!.queryAllByRole("img", { name: /as the model saw it/ })).toHaveLength(0);
    expect(dino!.getByRole("note").textContent).toContain("0123456789abcdef, now fedcba9876543210");
    expect(gone!.getByRole("note").textContent).toContain("No longer served");
    expect(gone!.queryByRole("link", { name: "L1 H2 M1 pos" })).toBeNull();
    // The current revision pins each mode's request; the unserved atlas is not asked.
    const urls = fetchMock.mock.calls.map(([r]) => (r as Request).url);
    expect(urls.some((u) => u.includes("/dino__shapes/") && u.includes("v=fedcba9876543210"))).toBe(true);
    expect(urls.some((u) => u.includes("gone__shapes"))).toBe(false);
  });

  it("opens the list as a new draft to edit", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [`/api/lists/${LIST_ID}`]: { body: { ...LIST, modes: [listed()] } },
      "/api/models/planted__shapes/layers/1/heads/2/modes/1": { body: modeDetail() },
    });
    renderAt(`/lists/${LIST_ID}`);
    fireEvent.click(await screen.findByRole("button", { name: "Edit as a new list" }));
    await waitFor(() => expect(currentUrl()).toBe("/lists"));
    expect(((await screen.findByRole("textbox", { name: "Title" })) as HTMLInputElement).value).toBe(LIST.title);
    expect((screen.getByRole("textbox", { name: "Note for L1 H2 M1 pos" }) as HTMLInputElement).value).toBe(
      "red → cyan",
    );
  });

  it("embeds the list's modes without the editing action, with a link to the full page", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [`/api/lists/${LIST_ID}`]: { body: { ...LIST, modes: [listed()] } },
      "/api/models/planted__shapes/layers/1/heads/2/modes/1": { body: modeDetail() },
    });
    renderAt(`/lists/${LIST_ID}?embed=1`);
    expect(await screen.findByRole("heading", { name: LIST.title })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Edit as a new list" })).toBeNull();
    const full = screen.getByRole("link", { name: /open in qkatlas/ });
    expect(full.getAttribute("href")).toMatch(new RegExp(`/lists/${LIST_ID}$`));
  });

  it("says clearly when no list has the id", async () => {
    mockApi({ [`/api/lists/${LIST_ID}`]: { status: 404, body: { detail: "no such list" } } });
    renderAt(`/lists/${LIST_ID}`);
    expect(await screen.findByRole("heading", { level: 1, name: "List not found" })).toBeTruthy();
    expect(screen.getByText(LIST_ID)).toBeTruthy();
  });
});

describe("adding modes and sharing the list", () => {
  it("collects modes from two models into the draft and shares it as one link", async () => {
    const posted: unknown[] = [];
    mockApi({
      "/api/models": {
        body: [modelSummary(), modelSummary({ slug: "dino__shapes", model_id: "facebook/dino-vits16" })],
      },
      "/api/models/planted__shapes/layers/1/heads/2/modes/1": { body: modeDetail() },
      "/api/models/dino__shapes/layers/0/heads/1/modes/3": {
        body: modeDetail({ model: "dino__shapes", layer: 0, head: 1, mode: 3, sign: "neg" }),
      },
      "POST /api/lists": async (request) => {
        posted.push(await request.json());
        return { status: 201, body: { ...LIST, modes: [] } };
      },
    });
    const first = renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    const form = await screen.findByRole("form", { name: "Add this mode to your list" });
    fireEvent.change(within(form).getByRole("textbox"), { target: { value: "red → cyan" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add to list" }));
    expect(await within(form).findByText("In your list.")).toBeTruthy();
    first.unmount();

    renderAt("/m/dino__shapes/L0/H1/M3?sign=neg&basis=faithful");
    const second = await screen.findByRole("form", { name: "Add this mode to your list" });
    expect(within(second).getByRole("status").textContent).toContain("Your list: 1 mode.");
    fireEvent.click(within(second).getByRole("button", { name: "Add to list" }));
    fireEvent.click(await within(second).findByRole("link", { name: "Open your list" }));
    await waitFor(() => expect(currentUrl()).toBe("/lists"));

    const share = await screen.findByRole("button", { name: "Share list" });
    expect((share as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText("Give the list a title.")).toBeTruthy();
    fireEvent.change(screen.getByRole("textbox", { name: "Title" }), { target: { value: "Two models" } });
    fireEvent.click(screen.getByRole("button", { name: "Move L0 H1 M3 neg up" }));
    fireEvent.click(share);
    const link = await screen.findByRole("link", { name: `${window.location.origin}/lists/${LIST_ID}` });
    expect(link.getAttribute("href")).toBe(`/lists/${LIST_ID}`);
    expect(posted).toEqual([
      {
        title: "Two models",
        modes: [
          { model: "dino__shapes", layer: 0, head: 1, mode: 3, sign: "neg", basis: "faithful", note: "" },
          { model: "planted__shapes", layer: 1, head: 2, mode: 1, sign: "pos", basis: "faithful", note: "red → cyan" },
        ],
      },
    ]);
    // An edit after sharing makes the link stale: it goes.
    fireEvent.click(screen.getByRole("button", { name: "Remove L1 H2 M1 pos" }));
    expect(screen.queryByRole("link", { name: `${window.location.origin}/lists/${LIST_ID}` })).toBeNull();
  });

  it("shows the server's reason when it refuses the list", async () => {
    localStorage.setItem(
      "qkatlas-draft-list",
      JSON.stringify({
        title: "t",
        modes: [
          {
            model: "planted__shapes",
            modelId: "planted-vit",
            layer: 1,
            head: 2,
            mode: 1,
            sign: "pos",
            basis: "faithful",
            note: "",
          },
        ],
      }),
    );
    mockApi({
      "POST /api/lists": {
        status: 422,
        body: { detail: "modes[0] (planted__shapes L1 H2 M1): no served model 'planted__shapes'" },
      },
    });
    renderAt("/lists");
    fireEvent.click(await screen.findByRole("button", { name: "Share list" }));
    expect((await screen.findByRole("alert")).textContent).toContain("no served model 'planted__shapes'");
  });
});
