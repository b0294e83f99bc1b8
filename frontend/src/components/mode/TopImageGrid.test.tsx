import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { modeDetail, modelSummary, UPLOAD_ID, uploadHeadModes } from "../../test/fixtures";
import { currentUrl, mockApi, renderAt } from "../../test/mockApi";

const MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/1";
const PAGE = "/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful";

function render(url = PAGE) {
  mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail() } });
  renderAt(url);
}

function dialog() {
  return screen.getByRole("dialog", { name: /top image/ });
}

describe("the large view of a top image", () => {
  it("opens from a card with the clean photo, the overlay, label, source, score and rank", async () => {
    render(`${PAGE}&opacity=0.4`);
    const card = await screen.findByRole("link", { name: /on top image 1 \(red square\)/ });
    fireEvent.click(card);
    expect(currentUrl()).toBe(`${PAGE}&opacity=0.4&image=0`);
    const view = within(dialog());
    expect(view.getByRole("heading", { name: "L1 H2 M1 pos: top image #1 of 2" })).toBeTruthy();
    const photo = view.getByRole("img", { name: "Top image 1 (red square) as the model saw it" });
    expect(photo.getAttribute("src")).toBe("/api/images/planted__shapes~5");
    // The caption says how the model resized and cropped it (the model summary's own words).
    expect(view.getByText(/^The photo as the model saw it: /).textContent).toBe(
      `The photo as the model saw it: ${modelSummary().preprocessing.description}`,
    );
    const overlay = view.getByRole("img", { name: /query map \(red\) and key map \(cyan\) of L1 H2 M1 pos/ });
    expect(new URL(overlay.getAttribute("src")!, "http://x").searchParams.get("opacity")).toBe("0.40");
    // Each fact as "label: value" (a term's "?" help button sits in its label, not in its text).
    const facts = [...dialog().querySelectorAll("dl > div")].map(
      (row) => `${row.querySelector("dt")!.firstChild!.textContent}: ${row.querySelector("dd")!.textContent}`,
    );
    expect(facts).toEqual(["rank: #1 of 2", "score: 9.000", "class: red square", "source file: img0.png"]);
    expect(within(dialog()).getByRole("button", { name: "What is score?" })).toBeTruthy();
  });

  it.each([
    ["both", "The query map (red) and key map (cyan) over it, with the two patches that make the score outlined"],
    ["key", "The key map (cyan) over it, with the two patches that make the score outlined"],
  ] as const)("names in its caption and alt text only the maps shown (%s)", async (channel, caption) => {
    render(`${PAGE}${channel === "both" ? "" : `&channel=${channel}`}&image=0`);
    const view = within(await screen.findByRole("dialog", { name: /top image/ }));
    expect(view.getByText(/over it, with/).textContent).toBe(caption);
    const overlay = view.getByRole("img", { name: /of L1 H2 M1 pos on top image 1/ });
    expect(overlay.getAttribute("alt")?.startsWith(caption.slice("The ".length, caption.indexOf(" over it")))).toBe(
      true,
    );
  });

  it("moves with the arrow keys and j/k inside, without moving the page behind it", async () => {
    render(`${PAGE}&image=0`);
    await screen.findByRole("dialog", { name: /top image #1/ });
    fireEvent.keyDown(dialog(), { key: "ArrowRight" });
    expect(currentUrl()).toBe(`${PAGE}&image=1`);
    expect(within(dialog()).getByText("source file").nextSibling?.textContent).toBe("img1.png");
    // The last image: → goes nowhere, and the page (which steps to the next mode on →) stays.
    fireEvent.keyDown(dialog(), { key: "ArrowRight" });
    fireEvent.keyDown(dialog(), { key: "j" });
    fireEvent.keyDown(dialog(), { key: "ArrowRight", shiftKey: true });
    expect(currentUrl()).toBe(`${PAGE}&image=1`);
    fireEvent.keyDown(dialog(), { key: "k" });
    expect(currentUrl()).toBe(`${PAGE}&image=0`);
    expect(within(dialog()).getByRole("button", { name: "← Previous" })).toHaveProperty("disabled", true);
  });

  it("steps from the last move even before it has rendered (keys pressed in quick succession)", async () => {
    render(`${PAGE}&image=1`);
    await screen.findByRole("dialog", { name: /top image #2/ });
    act(() => {
      fireEvent.keyDown(dialog(), { key: "k" });
      fireEvent.keyDown(dialog(), { key: "j" });
    });
    expect(currentUrl()).toBe(`${PAGE}&image=1`);
  });

  it("closes with Escape, giving the focus to the card of the image it showed", async () => {
    render(`${PAGE}&image=0`);
    await screen.findByRole("dialog", { name: /top image #1/ });
    fireEvent.keyDown(dialog(), { key: "ArrowRight" });
    fireEvent.keyDown(dialog(), { key: "Escape" });
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(currentUrl()).toBe(PAGE);
    expect(document.activeElement).toBe(screen.getByRole("link", { name: /on top image 2/ }));
  });

  it("opened from the grid, closing steps back in the history instead of adding a step", async () => {
    render();
    fireEvent.click(await screen.findByRole("link", { name: /on top image 1/ }));
    fireEvent.click(within(dialog()).getByRole("button", { name: "Close" }));
    await waitFor(() => expect(currentUrl()).toBe(PAGE));
    // The entry of the open view is still ahead (as after any Back), not replaced by a copy of the page.
    fireEvent.click(screen.getByRole("button", { name: "forward", hidden: true }));
    expect(currentUrl()).toBe(`${PAGE}&image=0`);
  });

  it("'Explore attention in this image' opens the image's upload view for this head, saying what it is", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      "POST /api/images/planted__shapes~6/upload": {
        status: 201,
        body: {
          upload: { id: UPLOAD_ID, width: 64, height: 64, n_bytes: 10, expires_in_s: 86_400 },
          image_id: "planted__shapes~6",
          label: null,
          source: "img1.png",
          from_original_file: false,
          note: "the original file of 'img1.png' can no longer be read where the atlas was built",
        },
      },
      [`/api/uploads/${UPLOAD_ID}`]: {
        body: { id: UPLOAD_ID, width: 64, height: 64, n_bytes: 10, expires_in_s: 86_400 },
      },
      [`/api/uploads/${UPLOAD_ID}/models/planted__shapes/layers/1/heads/2`]: {
        body: uploadHeadModes({ layer: 1, head: 2 }),
      },
    });
    renderAt(`${PAGE}&image=1`);
    await screen.findByRole("dialog", { name: /top image #2/ });
    fireEvent.click(within(dialog()).getByRole("button", { name: "Explore attention in this image" }));
    await screen.findByRole("heading", { name: "The dataset image in planted-vit" });
    // The mode it came from goes along, to be marked in the ranking.
    expect(currentUrl()).toBe(
      `/upload/${UPLOAD_ID}?model=planted__shapes&layer=1&head=2&basis=faithful&mode=1&sign=pos`,
    );
    expect(fetchMock.mock.calls.some(([r]) => (r as Request).method === "POST")).toBe(true);
    const note = screen.getByRole("note");
    expect(note.textContent).toContain("This is a dataset image, img1.png, one of the atlas's top images");
    expect(note.textContent).toContain(
      "The stored crop (the image as the model saw it) was used instead of the original file: the original file of 'img1.png' can no longer be read",
    );
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByRole("region", { name: "Attention of one patch" })).toBeTruthy();
    // Another head of the same upload is still the dataset image.
    fireEvent.change(screen.getByRole("combobox", { name: "Head" }), { target: { value: "1" } });
    expect(currentUrl()).toContain("head=1");
    expect(screen.getByRole("note").textContent).toContain("This is a dataset image");
  });

  it("says why an image cannot be opened as an upload", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      "POST /api/images/planted__shapes~5/upload": {
        status: 429,
        body: { detail: "too many uploads; try again later" },
      },
    });
    renderAt(`${PAGE}&image=0`);
    await screen.findByRole("dialog", { name: /top image #1/ });
    fireEvent.click(within(dialog()).getByRole("button", { name: "Explore attention in this image" }));
    expect((await within(dialog()).findByRole("alert")).textContent).toContain("too many uploads; try again later");
    expect(currentUrl()).toBe(`${PAGE}&image=0`);
  });
});
