import { focusManager } from "@tanstack/react-query";
import { act, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { modeDetail, modelDetail, modelSummary } from "../test/fixtures";
import { mockApi, renderAt } from "../test/mockApi";

const MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/1";
const OLD = "0123456789abcdef";
const NEW = "fedcba9876543210";

/** The served atlas, switchable between two builds as a rebuild would. */
function twoBuilds() {
  const build = { revision: OLD, label: "red square" };
  const topImages = () =>
    modeDetail().top_images.map((image) => ({
      ...image,
      label: image.rank === 0 ? build.label : null,
      overlay_url: `${image.overlay_url}&v=${build.revision}`,
    }));
  const fetchMock = mockApi({
    "/api/models": () => ({ body: [modelSummary({ revision: build.revision })] }),
    "/api/models/planted__shapes": () => ({ body: modelDetail({ revision: build.revision }) }),
    // No class profile: the label shows once, on its image.
    [MODE]: () => ({ body: modeDetail({ top_images: topImages(), class_profile: null }) }),
  });
  const rebuild = () => Object.assign(build, { revision: NEW, label: "blue circle" });
  const modeRequests = () => fetchMock.mock.calls.filter(([r]) => new URL((r as Request).url).pathname === MODE).length;
  return { rebuild, modeRequests };
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

  it("returning to the tab finds the rebuild; an unchanged atlas is not asked again", async () => {
    const { rebuild, modeRequests } = twoBuilds();
    renderAt("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    expect(await screen.findByText("red square")).toBeTruthy();
    act(() => {
      focusManager.setFocused(false);
      focusManager.setFocused(true);
    });
    await screen.findAllByRole("img", { name: /on top image 1/ });
    expect(modeRequests()).toBe(1);
    rebuild();
    act(() => {
      focusManager.setFocused(false);
      focusManager.setFocused(true);
    });
    expect(await screen.findByText("blue circle")).toBeTruthy();
    expect(modeRequests()).toBe(2);
  });
});
