import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import type { Upload, UploadModeStanding } from "../../api/client";
import { modeDetail, modeDetailWithoutStatistics, modelSummary } from "../../test/fixtures";
import { currentUrl, history, mockApi, renderAt } from "../../test/mockApi";
import { rememberUpload } from "../../lib/upload/recentUploads";

const ID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/1";
const NEXT_MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/2";
const UNDER_HEAD = "models/planted__shapes/layers/1/heads/2";
const STANDING = `/api/uploads/${ID}/${UNDER_HEAD}/modes/1/standing` as const;
const NEXT_STANDING = `/api/uploads/${ID}/${UNDER_HEAD}/modes/2/standing` as const;
const OTHER_STANDING = `/api/uploads/${OTHER}/${UNDER_HEAD}/modes/1/standing` as const;
const RECORD = `/api/uploads/${ID}` as const;
const OTHER_RECORD = `/api/uploads/${OTHER}` as const;
const PAGE = "/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful";

function upload(id: string = ID): Upload {
  return { id, width: 640, height: 480, n_bytes: 1234, expires_in_s: 3600 };
}

function yourStanding(overrides: Partial<UploadModeStanding> = {}): UploadModeStanding {
  return {
    upload_id: ID,
    model: "planted__shapes",
    revision: "0123456789abcdef",
    layer: 1,
    head: 2,
    mode: 1,
    sign: "pos",
    basis: "faithful",
    score: 6.5,
    fires: true,
    standing: {
      count: 10,
      below_at_least: 9,
      below_at_most: 9,
      exact: true,
      percentile_low: 90,
      percentile_high: 90,
      top_k_rank: null,
      top_k: 2,
      rule: "…",
    },
    standing_missing: null,
    ...overrides,
  };
}

beforeEach(() => localStorage.clear());

describe("Try your image on a mode page", () => {
  it("shows the attached upload's maps, score, percentile in words and a marker on the histogram", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      [RECORD]: { body: upload() },
      [STANDING]: { body: yourStanding() },
    });
    renderAt(`${PAGE}&upload=${ID}`);
    const section = await screen.findByRole("region", { name: "Your image" });
    expect(await within(section).findByText("Higher than 90.0 %")).toBeTruthy();
    expect(within(section).getByTestId("your-image-standing").textContent).toBe(
      "Higher than 90.0 % of the 10 images of shapes",
    );
    expect(section.textContent).toContain("9 of them score below it; below the stored top 2.");
    expect(within(section).getByText("6.500")).toBeTruthy();
    const overlay = within(section).getByRole("img", { name: /L1 H2 M1 pos on your image/ });
    expect(overlay.getAttribute("src")).toContain(
      `/api/uploads/${ID}/models/planted__shapes/layers/1/heads/2/modes/1/`,
    );
    // The chart is loaded lazily: on a busy machine that takes a while.
    const chart = await screen.findByRole(
      "img",
      { name: /^Histogram of the score of L1 H2 M1 pos/ },
      { timeout: 15_000 },
    );
    expect(chart.getAttribute("aria-label")).toContain("Marked apart: your image, score 6.500.");
    // The standing is asked for the page's atlas build, sign and basis.
    const asked = fetchMock.mock.calls.map(([r]) => new URL((r as Request).url)).find((u) => u.pathname === STANDING);
    expect(asked?.searchParams.get("v")).toBe("0123456789abcdef");
    expect(asked?.searchParams.get("sign")).toBe("pos");
    // Opening it remembers it for other mode pages.
    await waitFor(() => expect(localStorage.getItem("qkatlas-recent-uploads")).toContain(ID));
  });

  it("says when the stored data leave a range, when the mode does not fire, and when it would enter the top-K", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      [RECORD]: { body: upload() },
      [STANDING]: {
        body: yourStanding({
          fires: false,
          standing: {
            ...yourStanding().standing!,
            below_at_least: 3,
            below_at_most: 5,
            exact: false,
            percentile_low: 30,
            percentile_high: 50,
            top_k_rank: 1,
          },
        }),
      },
    });
    renderAt(`${PAGE}&upload=${ID}`);
    const section = await screen.findByRole("region", { name: "Your image" });
    expect(await within(section).findByText("Higher than 30.0–50.0 %")).toBeTruthy();
    expect(section.textContent).toContain("between 3 and 5 of them score below it");
    expect(section.textContent).toContain("it would rank #2 of the stored top 2");
    expect(within(section).getByText("does not fire")).toBeTruthy();
  });

  it("without stored statistics, gives the score and says no distribution is stored", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetailWithoutStatistics() },
      [RECORD]: { body: upload() },
      [STANDING]: {
        body: yourStanding({ standing: null, standing_missing: "no distribution stored: not computed for this atlas" }),
      },
    });
    renderAt(`${PAGE}&upload=${ID}`);
    const section = await screen.findByRole("region", { name: "Your image" });
    expect(
      await within(section).findByText(
        "Where it falls in the dataset: no distribution stored: not computed for this atlas.",
      ),
    ).toBeTruthy();
    expect(within(section).queryByText(/Higher than/)).toBeNull();
  });

  it("keeps the upload in the address when stepping to the next mode, and Back returns", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      [NEXT_MODE]: { body: modeDetail({ mode: 2 }) },
      [RECORD]: { body: upload() },
      [STANDING]: { body: yourStanding() },
      [NEXT_STANDING]: { body: yourStanding({ mode: 2, score: 1.25 }) },
    });
    renderAt(`${PAGE}&upload=${ID}`);
    await screen.findByText("Higher than 90.0 %");
    const next = screen.getByRole("link", { name: /M2/ });
    expect(next.getAttribute("href")).toContain(`upload=${ID}`);
    act(() => {
      fireEvent.keyDown(document.body, { key: "ArrowRight" });
    });
    await waitFor(() => expect(currentUrl()).toBe(`/m/planted__shapes/L1/H2/M2?sign=pos&basis=faithful&upload=${ID}`));
    expect(await screen.findByText("1.250")).toBeTruthy();
    history(-1);
    await waitFor(() => expect(currentUrl()).toBe(`${PAGE}&upload=${ID}`));
  });

  it("an upload the server no longer has says so and offers to remove it; Back brings the address back", async () => {
    rememberUpload(upload());
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      [RECORD]: {
        status: 404,
        body: { detail: "no such upload: it expired, or the server lost it in a restart; upload the image again" },
      },
      [STANDING]: {
        status: 404,
        body: { detail: "no such upload: it expired, or the server lost it in a restart; upload the image again" },
      },
    });
    renderAt(`${PAGE}&upload=${ID}`);
    const alert = await screen.findByText("This upload is no longer on the server.");
    expect(alert.closest("[role=alert]")?.textContent).toContain("forgotten 24 hours after");
    await waitFor(() => expect(localStorage.getItem("qkatlas-recent-uploads")).not.toContain(ID));
    fireEvent.click(screen.getByRole("button", { name: "Remove it from this page" }));
    await waitFor(() => expect(currentUrl()).toBe(PAGE));
    expect(await screen.findByRole("region", { name: "Try your image" })).toBeTruthy();
    history(-1);
    await waitFor(() => expect(currentUrl()).toBe(`${PAGE}&upload=${ID}`));
  });

  it("an address with a malformed upload id says what is wrong without asking the server", async () => {
    const fetchMock = mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail() } });
    renderAt(`${PAGE}&upload=nope`);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("upload=nope, which is not an upload id");
    expect(fetchMock.mock.calls.some(([r]) => new URL((r as Request).url).pathname.startsWith("/api/uploads"))).toBe(
      false,
    );
  });

  it("a dropped file is uploaded and attached; a recent upload is attached with one click", async () => {
    rememberUpload(upload(OTHER));
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      "POST /api/uploads": { status: 201, body: upload() },
      [RECORD]: { body: upload() },
      [OTHER_RECORD]: { body: upload(OTHER) },
      [STANDING]: { body: yourStanding() },
      [OTHER_STANDING]: { body: yourStanding({ upload_id: OTHER, score: 2 }) },
    });
    renderAt(PAGE);
    const section = await screen.findByRole("region", { name: "Try your image" });
    const recent = within(section).getByRole("button", { name: `Your upload ${OTHER.slice(0, 8)}` });
    expect(recent.querySelector("img")?.getAttribute("src")).toBe(
      `/api/uploads/${OTHER}/models/planted__shapes/image.png?v=0123456789abcdef`,
    );
    const file = new File(["x"], "cat.jpg", { type: "image/jpeg" });
    fireEvent.drop(section.querySelector(".dropzone")!, { dataTransfer: { files: [file] } });
    await waitFor(() => expect(currentUrl()).toBe(`${PAGE}&upload=${ID}`));
    expect(await screen.findByText("Higher than 90.0 %")).toBeTruthy();
    expect(JSON.parse(localStorage.getItem("qkatlas-recent-uploads")!)[0].id).toBe(ID);
    // Another one, from the recent uploads under "Try another image".
    fireEvent.click(screen.getByText("Try another image"));
    fireEvent.click(screen.getByRole("button", { name: `Your upload ${OTHER.slice(0, 8)}` }));
    await waitFor(() => expect(currentUrl()).toBe(`${PAGE}&upload=${OTHER}`));
    expect(await screen.findByText("2.000")).toBeTruthy();
  });
});
