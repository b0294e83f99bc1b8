import { focusManager } from "@tanstack/react-query";
import { act, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { modeDetail, modelDetail, modelSummary, modeSamples } from "../test/fixtures";
import { mockApi, renderAt } from "../test/mockApi";

const MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/1";
const OLD = "0123456789abcdef";
const NEW = "fedcba9876543210";

/** The served atlas, switchable between two builds as a rebuild would. */
function twoBuilds({ rebuiltAfterList = false } = {}) {
  const build = { revision: OLD, label: "red square" };
  const rebuild = () => Object.assign(build, { revision: NEW, label: "blue circle" });
  const topImages = () =>
    modeDetail().top_images.map((image) => ({
      ...image,
      label: image.rank === 0 ? build.label : null,
      overlay_url: `${image.overlay_url}&v=${build.revision}`,
    }));
  const fetchMock = mockApi({
    "/api/models": () => {
      const body = [modelSummary({ revision: build.revision })];
      // The atlas is rebuilt just after the first list was sent: the page asks with the old revision.
      if (rebuiltAfterList && build.revision === OLD) rebuild();
      return { body };
    },
    "/api/models/planted__shapes": () => ({ body: modelDetail({ revision: build.revision }) }),
    [MODE]: (request) => {
      const v = new URL(request.url).searchParams.get("v");
      if (v !== null && v !== build.revision) {
        const detail = `model 'planted__shapes' was rebuilt since this address was made (revision ${v}, now ${build.revision}): reload the page`;
        return { status: 404, body: { detail } };
      }
      // No class profile: the label shows once, on its image.
      return { body: modeDetail({ top_images: topImages(), class_profile: null }) };
    },
    [`${MODE}/samples`]: { body: modeSamples() },
  });
  const requestsTo = (path: string) =>
    fetchMock.mock.calls.map(([r]) => new URL((r as Request).url)).filter((u) => u.pathname === path);
  const modeRequests = () => requestsTo(MODE).length;
  /** The revision each mode request was pinned to. */
  const modeRevisions = () => requestsTo(MODE).map((u) => u.searchParams.get("v"));
  const listRequests = () => requestsTo("/api/models").length;
  return { rebuild, modeRequests, modeRevisions, listRequests };
}

describe("an atlas rebuilt while the dashboard is open", () => {
  afterEach(() => focusManager.setFocused(undefined));

  it("a top image that fails to load (a replaced revision) brings the new build's page", async () => {
    const { rebuild, modeRequests } = twoBuilds();
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    expect(await screen.findByText("red square")).toBeTruthy();
    rebuild();
    const [first] = screen.getAllByRole("img", { name: /on top image 1/ });
    fireEvent.error(first!);
    expect(await screen.findByText("blue circle")).toBeTruthy();
    expect(screen.queryByText("red square")).toBeNull();
    const [reloaded] = screen.getAllByRole("img", { name: /on top image 1/ });
    expect(reloaded!.getAttribute("src")).toContain(`v=${NEW}`);
    expect(modeRequests()).toBe(2);
  });

  it("asks for a mode at its revision's address, and a rebuilt 404 brings the new build's mode", async () => {
    const { modeRevisions, listRequests } = twoBuilds({ rebuiltAfterList: true });
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    expect(await screen.findByText("blue circle")).toBeTruthy();
    // The old build's address failed; the model list, asked again, named the new build's.
    expect(modeRevisions()).toEqual([OLD, NEW]);
    expect(listRequests()).toBe(2);
    expect(screen.queryByText(/rebuilt/)).toBeNull();
    expect(screen.queryByText("red square")).toBeNull();
    const [image] = screen.getAllByRole("img", { name: /on top image 1/ });
    expect(image!.getAttribute("src")).toContain(`v=${NEW}`);
  });

  it("a mode that is not there stays an error after the model list is asked again", async () => {
    const { modeRevisions, listRequests } = twoBuilds();
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    expect(await screen.findByText("red square")).toBeTruthy();
    fireEvent.keyDown(window, { key: "j" }); // M2: no mock, 404 "no mock for …"
    expect(await screen.findByText(/no mock for/)).toBeTruthy();
    expect(listRequests()).toBe(2);
    expect(modeRevisions()).toEqual([OLD]);
  });

  it("returning to the tab finds the rebuild; an unchanged atlas is not asked again", async () => {
    const { rebuild, modeRequests, modeRevisions } = twoBuilds();
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    expect(await screen.findByText("red square")).toBeTruthy();
    act(() => {
      focusManager.setFocused(false);
      focusManager.setFocused(true);
    });
    await screen.findAllByRole("img", { name: /on top image 1/ });
    expect(modeRequests()).toBe(1);
    expect(modeRevisions()).toEqual([OLD]);
    rebuild();
    act(() => {
      focusManager.setFocused(false);
      focusManager.setFocused(true);
    });
    expect(await screen.findByText("blue circle")).toBeTruthy();
    expect(modeRequests()).toBe(2);
    expect(modeRevisions()).toEqual([OLD, NEW]);
  });
});
