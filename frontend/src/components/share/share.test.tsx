import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { headDetail, modeDetail, modelSummary, modeSamples } from "../../test/fixtures";
import { mockApi, renderAt } from "../../test/mockApi";

const MODEL = "/api/models/planted__shapes";
const MODE = `${MODEL}/layers/1/heads/2/modes/1`;
const PAGE = "/m/planted__shapes/L1/H2/M1";
const BIBTEX =
  "@software{qkatlas,\n  title = {qkatlas: an atlas},\n  author = {{qkatlas developers}},\n  version = {0.1.0}\n}";
const CITATION = {
  title: "qkatlas: an atlas",
  version: "0.1.0",
  authors: ["qkatlas developers"],
  license: null,
  repository: null,
  message: "Cite it.",
  bibtex: BIBTEX,
};

function mockModePage() {
  mockApi({
    "/api/models": { body: [modelSummary({ weights_revision: "r42" })] },
    [MODE]: { body: modeDetail() },
    [`${MODE}/samples`]: { body: modeSamples() },
    "/api/citation": { body: CITATION },
  });
}

function stubClipboard(writeText: (text: string) => Promise<void>) {
  const spy = vi.fn(writeText);
  vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText: spy } });
  return spy;
}

async function openShare() {
  fireEvent.click(await screen.findByRole("button", { name: "Share and cite" }));
  return screen.getByRole("region", { name: "Share and cite" });
}

describe("Share menu", () => {
  it("gives the pinned link, an embed snippet with the parts picked, and the citation, each copied on request", async () => {
    mockModePage();
    const copied = stubClipboard(async () => {});
    // The view's own state (an open image, a picked band) is no part of the permalink.
    renderAt(`${PAGE}?sign=neg&basis=exact&band=1`);
    const toggle = await screen.findByRole("button", { name: "Share and cite" });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    const panel = await openShare();
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    const origin = window.location.origin;
    const link = within(panel).getByLabelText<HTMLTextAreaElement>("Link to this view");
    expect(link.value).toBe(`${origin}${PAGE}?sign=neg&basis=exact`);

    const snippet = within(panel).getByLabelText<HTMLTextAreaElement>("Embed snippet");
    expect(snippet.value).toMatch(
      new RegExp(
        `^<iframe src="${origin}${PAGE}\\?sign=neg&amp;basis=exact&amp;embed=1" width="720" height="\\d+" ` +
          `title="L1 H2 M1 neg, exact basis, of planted-vit \\(qkatlas\\)" loading="lazy"`,
      ),
    );
    const before = Number(/height="(\d+)"/.exec(snippet.value)![1]);
    fireEvent.click(within(panel).getByRole("checkbox", { name: /images across the distribution/ }));
    fireEvent.click(within(panel).getByRole("checkbox", { name: /"Try your image" box/ }));
    expect(snippet.value).toContain('&amp;embed=1&amp;parts=badge,top,distribution,classes"');
    expect(Number(/height="(\d+)"/.exec(snippet.value)![1])).toBeLessThan(before);

    const citation = within(panel).getByLabelText<HTMLTextAreaElement>("Citation");
    await waitFor(() => expect(citation.value).toContain("qkatlas 0.1.0"));
    expect(citation.value).toMatch(
      new RegExp(
        `^mode L1 H2 M1 \\(sign neg, basis exact\\) of planted-vit \\(weights revision r42\\); qkatlas 0\\.1\\.0, ` +
          `atlas revision 0123456789abcdef, dataset shapes \\(10 images\\)\\. ${origin}${PAGE}\\?sign=neg&basis=exact ` +
          `\\(accessed \\d{4}-\\d\\d-\\d\\d\\)\\.$`,
      ),
    );
    expect(within(panel).getByLabelText<HTMLTextAreaElement>("BibTeX of the software").value).toBe(BIBTEX);

    for (const [name, field] of [
      ["Copy link to this view", link],
      ["Copy embed snippet", snippet],
      ["Copy citation", citation],
    ] as const) {
      fireEvent.click(within(panel).getByRole("button", { name }));
      await waitFor(() => expect(copied).toHaveBeenLastCalledWith(field.value));
      const status = within(field.closest(".copy-field") as HTMLElement).getByRole("status");
      await waitFor(() => expect(status.textContent).toBe("Copied."));
    }
  });

  it("selects the text and says how to copy it when the browser refuses", async () => {
    mockModePage();
    stubClipboard(() => Promise.reject(new DOMException("denied", "NotAllowedError")));
    renderAt(`${PAGE}?sign=pos&basis=faithful`);
    const panel = await openShare();
    fireEvent.click(within(panel).getByRole("button", { name: "Copy embed snippet" }));
    const field = within(panel).getByLabelText<HTMLTextAreaElement>("Embed snippet");
    await waitFor(() => expect(within(panel).getByText(/press Ctrl\+C/)).toBeTruthy());
    expect(document.activeElement).toBe(field);
    expect(field.selectionStart).toBe(0);
    expect(field.selectionEnd).toBe(field.value.length);
  });

  it("closes on Escape and gives the focus back to its button", async () => {
    mockModePage();
    renderAt(`${PAGE}?sign=pos&basis=faithful`);
    const panel = await openShare();
    fireEvent.keyDown(within(panel).getByLabelText("Citation"), { key: "Escape" });
    expect(screen.queryByRole("region", { name: "Share and cite" })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Share and cite" }));
  });

  it("on a head page cites the head, with its basis, and offers its own parts", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [`${MODEL}/layers/1/heads/2`]: { body: headDetail() },
      "/api/citation": { body: CITATION },
    });
    renderAt("/m/planted__shapes/L1/H2");
    const panel = await openShare();
    const origin = window.location.origin;
    expect(within(panel).getByLabelText<HTMLTextAreaElement>("Link to this view").value).toBe(
      `${origin}/m/planted__shapes/L1/H2?basis=faithful`,
    );
    expect(
      within(panel)
        .getAllByRole("checkbox")
        .map((box) => box.parentElement?.textContent?.trim()),
    ).toEqual(["title badge (links to the page)", "σ and cosine chart", "table of modes"]);
    expect(within(panel).getByLabelText<HTMLTextAreaElement>("Citation").value).toMatch(
      /^head L1 H2 \(basis faithful\) of planted-vit \(weights revision not recorded\); qkatlas/,
    );
  });
});

describe("embed", () => {
  it("shows only the mode's content and the parts asked for, with a link to the full page in a new tab", async () => {
    mockModePage();
    renderAt(`${PAGE}?sign=pos&basis=faithful&embed=1&parts=badge,top`);
    await screen.findByRole("region", { name: /^Top 2 images/ });
    expect(screen.queryByRole("banner")).toBeNull();
    expect(screen.queryByRole("contentinfo")).toBeNull();
    expect(screen.queryByRole("search")).toBeNull();
    expect(screen.queryByRole("navigation", { name: "Breadcrumb" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Share and cite" })).toBeNull();
    expect(screen.queryByText(/^Keys:/)).toBeNull();
    expect(screen.queryByRole("region", { name: "Score over the dataset" })).toBeNull();
    expect(screen.queryByRole("region", { name: "Classes" })).toBeNull();
    expect(screen.queryByRole("region", { name: "Across the distribution" })).toBeNull();
    expect(screen.queryByRole("region", { name: /Try your image/i })).toBeNull();
    const badge = screen.getByRole("heading", { level: 1 });
    expect(badge.textContent).toContain("Mode L1 H2 M1 pos");
    const open = screen.getByRole("link", { name: /open in qkatlas/ });
    expect(open.getAttribute("target")).toBe("_blank");
    expect(open.getAttribute("rel")).toBe("noopener");
    expect(open.getAttribute("href")).toBe(`${window.location.origin}${PAGE}?sign=pos&basis=faithful`);
  });

  it("opens a link that leaves the view in the full app, in a new tab", async () => {
    mockModePage();
    const opened = vi.spyOn(window, "open").mockReturnValue(null);
    renderAt(`${PAGE}?sign=pos&basis=faithful&embed=1`);
    await screen.findByRole("region", { name: "Classes" });
    // Without parts=, every part of the page, and still no chrome.
    for (const part of ["Try your image", "Score over the dataset", "Across the distribution"]) {
      expect(screen.getByRole("region", { name: part })).toBeTruthy();
    }
    expect(screen.getByRole("region", { name: /^Top 2 images/ })).toBeTruthy();
    expect(screen.queryByRole("region", { name: "Similar modes" })).toBeNull();
    expect(screen.queryByRole("search")).toBeNull();
    const classLink = within(screen.getByRole("region", { name: "Classes" })).getAllByRole("link")[0]!;
    fireEvent.click(classLink);
    expect(opened).toHaveBeenCalledWith(
      `${window.location.origin}${classLink.getAttribute("href")}`,
      "_blank",
      "noopener",
    );
    expect(screen.getByTestId("location").dataset.url).toBe(`${PAGE}?sign=pos&basis=faithful&embed=1`);
  });

  it("keeps a top image's large view inside the embed, without the full app's analysis", async () => {
    mockModePage();
    const opened = vi.spyOn(window, "open").mockReturnValue(null);
    renderAt(`${PAGE}?sign=pos&basis=faithful&embed=1&parts=top`);
    await screen.findByRole("region", { name: /^Top 2 images/ });
    fireEvent.click(document.querySelector(".image-card figure a")!);
    const view = await screen.findByRole("dialog", { name: /top image/ });
    expect(opened).not.toHaveBeenCalled();
    expect(screen.getByTestId("location").dataset.url).toBe(
      `${PAGE}?sign=pos&basis=faithful&embed=1&parts=top&image=0`,
    );
    expect(within(view).queryByRole("button", { name: "Explore attention in this image" })).toBeNull();
  });

  it("names parts it does not know", async () => {
    mockModePage();
    renderAt(`${PAGE}?embed=1&parts=top,histogram`);
    const note = await screen.findByText(/Unknown part in/);
    expect(note.textContent).toContain("histogram (left out)");
  });
});
