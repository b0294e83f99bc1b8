import { fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { attentionSplit, modeDetail, modelSummary, UPLOAD_ID, uploadHeadModes } from "../test/fixtures";
import { currentUrl, mockApi, renderAt } from "../test/mockApi";

const UPLOAD = { id: UPLOAD_ID, width: 64, height: 64, n_bytes: 10, expires_in_s: 3600 };
const HEAD = `/api/uploads/${UPLOAD_ID}/models/planted__shapes/layers/0/heads/0`;

function mockUpload() {
  return mockApi({
    [`/api/uploads/${UPLOAD_ID}`]: { body: UPLOAD },
    "/api/models": { body: [modelSummary()] },
    [HEAD]: { body: uploadHeadModes() },
    [`${HEAD}/attention`]: { body: attentionSplit() },
    "/api/models/planted__shapes/layers/0/heads/0/modes/2": { body: modeDetail() },
    "/api/models/planted__shapes/layers/0/heads/0/modes/0": { body: modeDetail() },
  });
}

function explorer() {
  return screen.getByRole("region", { name: "Attention of one patch" });
}

/** Clicks patch `index` of the explorer's patch picker. */
function pickPatch(index: number) {
  const picker = within(explorer()).getByRole("application", { name: /Patch picker/ });
  fireEvent.click(picker.querySelectorAll(".patch-hit")[index]!);
}

describe("the attention explorer on an upload", () => {
  it("is offered in the faithful view; a patch picked there moves the page to the exact basis and says why", async () => {
    const fetchMock = mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0`);
    await screen.findByRole("region", { name: "Attention of one patch" });
    expect(within(explorer()).getByText(/Picking a patch moves this page to the exact basis/)).toBeTruthy();

    pickPatch(5);
    expect(new URL(currentUrl(), "http://x").searchParams.get("basis")).toBe("exact");
    expect(new URL(currentUrl(), "http://x").searchParams.get("patch")).toBe("5");
    expect(
      within(explorer()).getByText(/^Switched to the exact basis: only there do the modes add up exactly/),
    ).toBeTruthy();
    // Mode 0 raises the logit of the patch the row attends to most: it drives the row most.
    const drives = await within(explorer()).findByRole("list");
    expect(within(drives).getAllByRole("link")[0]!.textContent).toBe("L0 H0 M0");
    // The reason stays while the page is in the exact basis it moved to.
    pickPatch(6);
    expect(new URL(currentUrl(), "http://x").searchParams.get("patch")).toBe("6");
    expect(within(explorer()).getByText(/^Switched to the exact basis/)).toBeTruthy();
    const attention = fetchMock.mock.calls
      .map(([r]) => new URL((r as Request).url))
      .find((u) => u.pathname.endsWith("/attention"));
    expect(attention?.searchParams.get("query_patch")).toBe("5");
  });

  it("draws the row on the fixed scale around 1/N, with its entropy, the query numbered as in the address", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0&basis=exact&patch=5`);
    // 17 keys (CLS and 16 patches): 1/N² = 0.0035, 1/N = 0.059.
    const legend = await screen.findByRole("group", {
      name: "Colour scale: attention probability from the selected query patch (prefix tokens left out), log scale from 0.0035 (1/N²) to 1, uniform level 1/N = 0.059 marked, N = 17 keys",
    });
    expect(legend.textContent).toContain("1/N = 0.059");
    // H = −(0.1 ln 0.1 + 0.6 ln 0.6 + 15 · 0.02 ln 0.02) = 1.710 nats; exp(H) = 5.53.
    expect(within(explorer()).getByText(/Entropy 1\.71 nats/).textContent).toContain(
      "effective number of keys exp(H) = 5.5 of N = 17",
    );
    expect(within(explorer()).getByText(/^Query patch 5 \(row 1, column 1\), counted from 0/)).toBeTruthy();
    // Already in the exact basis: nothing was switched, so there is nothing to explain.
    expect(within(explorer()).queryByText(/Switched to the exact basis/)).toBeNull();
  });

  it("in the exact basis, a picked patch keeps the basis and says nothing about switching", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0&basis=exact`);
    await screen.findByRole("region", { name: "Attention of one patch" });
    pickPatch(5);
    expect(new URL(currentUrl(), "http://x").searchParams.get("patch")).toBe("5");
    await within(explorer()).findByRole("list");
    expect(within(explorer()).queryByText(/Switched to the exact basis/)).toBeNull();
  });

  it("says why there is no explorer for an atlas without the exact basis", async () => {
    mockApi({
      [`/api/uploads/${UPLOAD_ID}`]: { body: UPLOAD },
      "/api/models": { body: [modelSummary({ bases: ["faithful"] })] },
      [HEAD]: { body: uploadHeadModes() },
    });
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0`);
    await screen.findByRole("region", { name: "Attention of one patch" });
    expect(within(explorer()).getByText(/built without the exact basis/)).toBeTruthy();
    expect(within(explorer()).queryByRole("application")).toBeNull();
  });
});

describe("overlay options on an upload", () => {
  it("are read from the URL and used by the maps on the image", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0&opacity=0.3&blend=1`);
    const yours = await screen.findAllByRole("img", { name: /on your image/ });
    const src = new URL(yours[0]!.getAttribute("src")!, "http://x");
    expect(src.searchParams.get("opacity")).toBe("0.30");
    expect(src.searchParams.get("blend")).toBe("1.00");
    expect((screen.getByRole("slider", { name: "Map opacity" }) as HTMLInputElement).value).toBe("0.3");
  });
});

describe("the image as the model sees it", () => {
  it("states the model's preprocessing beside the model's view of the image", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0`);
    const image = await screen.findByRole("img", { name: "The image as planted-vit sees it" });
    expect(image.closest("figure")!.textContent).toBe(
      "As planted-vit sees it: squashed to 64 × 64 px (bilinear; the aspect ratio is not kept).",
    );
    // An ordinary upload is not called a dataset image.
    expect(screen.getByRole("heading", { name: "Your image in planted-vit" })).toBeTruthy();
  });
});

describe("the mode an upload view was opened from", () => {
  it("is marked in the head's ranking, and only that one", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0&mode=0&sign=pos`);
    const ranking = await screen.findByRole("region", { name: /ranked for your image/ });
    await within(ranking).findAllByRole("listitem");
    const marked = ranking.querySelectorAll(".ranked-mode[aria-current=true]");
    expect(marked).toHaveLength(1);
    expect(within(marked[0] as HTMLElement).getByRole("heading").textContent).toMatch(/L0 H0 M0 pos/);
    expect(within(marked[0] as HTMLElement).getByText("The mode you came from")).toBeTruthy();
  });

  it("is not marked for the other sign", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0&mode=0&sign=neg`);
    const ranking = await screen.findByRole("region", { name: /ranked for your image/ });
    await within(ranking).findAllByRole("listitem");
    expect(ranking.querySelectorAll(".ranked-mode[aria-current=true]")).toHaveLength(0);
  });
});

describe("a ranking card of the head", () => {
  it("opens the mode's page with the upload attached, and its dataset thumbnails the large view there", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted__shapes&layer=0&head=0`);
    const ranking = await screen.findByRole("region", { name: /ranked for your image/ });
    const card = (await within(ranking).findAllByRole("listitem"))[0]!;
    const mode = within(card)
      .getByRole("heading")
      .textContent!.match(/L0 H0 M(\d+) (pos|neg)/)!;
    const modePage = `/m/planted__shapes/L0/H0/M${mode[1]}?sign=${mode[2]}&basis=faithful&upload=${UPLOAD_ID}`;
    expect(
      within(card)
        .getByRole("link", { name: `L0 H0 M${mode[1]} ${mode[2]}` })
        .getAttribute("href"),
    ).toBe(modePage);
    expect(
      within(card)
        .getByRole("link", { name: /on your image/ })
        .getAttribute("href"),
    ).toBe(modePage);
    const thumbnail = await within(card).findByRole("link", { name: /on dataset image 1 / });
    expect(thumbnail.getAttribute("href")).toBe(`${modePage}&image=0`);
  });
});

describe("an upload address that names no view", () => {
  it.each([
    ["model=resnet", "No model “resnet” is served here."],
    ["model=planted__shapes&layer=7&head=0", "There is no layer 7. (planted-vit)"],
    ["model=planted__shapes&layer=0&head=9", "There is no head 9. (planted-vit)"],
    ["model=planted__shapes&layer=x", "“x” is not a layer number."],
  ])("?%s says so instead of showing another head", async (query, problem) => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?${query}`);
    expect(await screen.findByRole("heading", { level: 1, name: "No such view of your upload" })).toBeTruthy();
    expect(screen.getByText(problem)).toBeTruthy();
    expect(screen.queryByRole("heading", { name: /Your image in/ })).toBeNull();
    expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
    const link = within(screen.getByRole("list", { name: "Views of your upload" })).getByRole("link");
    expect(link.getAttribute("href")).toBe(`/upload/${UPLOAD_ID}`);
  });

  it("a short model name opens that model's view", async () => {
    mockUpload();
    renderAt(`/upload/${UPLOAD_ID}?model=planted&layer=0&head=0`);
    expect(await screen.findByRole("heading", { name: /Your image in planted-vit/ })).toBeTruthy();
  });
});
