import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { downloadCsv } from "../test/downloads";
import {
  datasetImageMaps,
  modeDetail,
  modeDetailWithoutStatistics,
  modelSummary,
  modeSamples,
  STATISTICS_NOTE,
} from "../test/fixtures";
import { bandOfBar } from "../components/mode/DistributionSamples";
import { mockApi, renderAt } from "../test/mockApi";

const MODE = "/api/models/planted__shapes/layers/1/heads/2/modes/1";
const URL_ = "/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful";

describe("mode page statistics", () => {
  it("draws the score distribution with mean ± std, the top images and the outside counts", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail() } });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Score over the dataset" });
    expect(within(section).getByText("2.600 ± 3.100")).toBeTruthy();
    expect(within(section).getByText("6 of 10 images (60.0 %)")).toBeTruthy();
    const chart = await within(section).findByRole("img", { name: /^Histogram of the score of L1 H2 M1 pos/ });
    const summary = chart.getAttribute("aria-label")!;
    expect(summary).toContain("over 10 images in 8 bins from -1.000 to 7.000");
    expect(summary).toContain("mean 2.600, standard deviation 3.100");
    expect(summary).toContain("1 below the bins, 2 beyond them");
    expect(summary).toContain("The top 2 images: score 8.000 to 9.000");
    const { name, text } = await downloadCsv("Score of L1 H2 M1 pos on each of the 10 images");
    expect(name).toBe("qkatlas-planted__shapes-l1-h2-m1-pos-faithful-score-distribution.csv");
    const lines = text.trim().split("\r\n");
    expect(lines[0]).toBe("model,mode,basis,bar,from,to,images,top images");
    expect(lines[1]).toBe("planted-vit,L1 H2 M1 pos,faithful,below the first edge,-1.4,-1,1,");
    expect(lines[2]).toBe("planted-vit,L1 H2 M1 pos,faithful,bin,-1,0,2,");
    expect(lines.at(-1)).toBe("planted-vit,L1 H2 M1 pos,faithful,from the last edge on,7,9,2,#1 #2");
    expect(lines).toHaveLength(1 + 8 + 2);
  });

  it("lists the classes the mode prefers, each linked to its class page, and its top images' labels", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail() } });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Classes" });
    const table = within(section).getByRole("table");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      "red square1.908.5002",
      "blue circle-0.501.0004",
      "green_triangle-0.700.5004",
    ]);
    expect(within(rows[2]!).getByRole("link").getAttribute("href")).toBe("/classes/green_triangle");
    expect(within(section).getByText(/Labels of its top 2 images/).textContent).toBe(
      "Labels of its top 2 images: red square × 1.",
    );
    // The top image's label links to its class page.
    const label = document.querySelector(".image-card .label a");
    expect(label?.getAttribute("href")).toBe("/classes/red%20square");
  });

  it("flags a mode that never fires", async () => {
    const never = modeDetail();
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: { ...never, distribution: { ...never.distribution!, firing: 0, never_fires: true } } },
    });
    renderAt(URL_);
    const notes = await screen.findAllByRole("note");
    expect(notes.map((n) => n.textContent).join(" ")).toMatch(
      /Never fires\. No image makes both the query and the key map peak above 0\. .*product of two negative maxima/,
    );
  });

  it("without statistics, says so in the server's words instead of drawing", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetailWithoutStatistics() } });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Score over the dataset" });
    expect(within(section).getByRole("note").textContent).toBe(`Distribution not computed: ${STATISTICS_NOTE}.`);
    expect(within(section).queryByRole("img")).toBeNull();
    expect(screen.queryByRole("region", { name: "Classes" })).toBeNull();
    // Labels stay plain text: no class page to go to.
    await waitFor(() => expect(document.querySelector(".image-card .label")?.textContent).toBe("red square"));
    expect(document.querySelector(".image-card .label a")).toBeNull();
  });

  it("a dataset without labels has a distribution but no class profile", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail({ class_profile: null }) } });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Classes" });
    expect(section.textContent).toContain("no class labels");
    expect(await screen.findByRole("img", { name: /^Histogram/ })).toBeTruthy();
  });
});

describe("mode page evidence", () => {
  it("with no image above the noise floor, says that none excites the mode and shows no image", async () => {
    const none = modeDetail({ top_images: [], left_out: 4 });
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: none } });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: /^Top images, positive sign/ });
    expect(within(section).getByText("No image in shapes excites this mode.")).toBeTruthy();
    expect(section.querySelector(".image-grid")).toBeNull();
    expect(within(section).queryAllByRole("img")).toHaveLength(0);
    expect(within(section).getByRole("button", { name: "What is evidence?" })).toBeTruthy();
  });

  it("a rank of a mode without evidence is the not-found page", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail({ top_images: [], left_out: 4 }) },
    });
    renderAt(`${URL_}&image=0`);
    await screen.findByRole("heading", { level: 1, name: "Page not found" });
    expect(screen.getByText(/top images? in the faithful basis/).textContent).toBe(
      "This signed mode has no top images in the faithful basis.",
    );
  });

  it("marks a top image that does not fire with a badge and its help, and says how many were left out", async () => {
    const detail = modeDetail();
    const [first, second] = detail.top_images;
    const quirk = { ...detail, top_images: [first!, { ...second!, fires: false }], left_out: 2 };
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: quirk } });
    renderAt(URL_);
    await screen.findByRole("link", { name: /on top image 2/ });
    const imageCards = [...document.querySelectorAll<HTMLElement>(".image-card")];
    expect(imageCards).toHaveLength(2);
    expect(within(imageCards[0]!).queryByText("does not fire")).toBeNull();
    const badge = within(imageCards[1]!).getByText("does not fire");
    expect(badge.getAttribute("title")).toMatch(/product of two negative maxima/);
    fireEvent.click(within(imageCards[1]!).getByRole("button", { name: "What is does not fire?" }));
    expect(screen.getByRole("dialog", { name: /does not fire/ }).textContent).toMatch(/two negative maxima/);
    expect(screen.getByText(/more of the top 4/).textContent).toBe(
      "2 more of the top 4 by the paper's rule are not shown: their scores are not above the noise floor.",
    );
  });
});

describe("mode page address with a top image", () => {
  it("opens the large view of a rank the mode has", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail() } });
    renderAt(`${URL_}&image=1`);
    expect(await screen.findByRole("dialog")).toBeTruthy();
    expect(screen.queryByRole("heading", { level: 1, name: "Page not found" })).toBeNull();
    // The controls the not-found case must not show are found here by the same queries.
    expect(screen.getByRole("group", { name: /^Sign/, hidden: true })).toBeTruthy();
    expect(screen.getByRole("navigation", { name: "Neighbouring modes", hidden: true })).toBeTruthy();
  });

  it("answers a rank beyond the top images with a not-found page that says what exists, without controls", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail() } });
    renderAt(`${URL_}&image=7`);
    await screen.findByRole("heading", { level: 1, name: "Page not found" });
    const count = modeDetail().top_images.length;
    expect(screen.getByText(/has no top image/).textContent).toBe("L1 H2 M1 pos has no top image image=7.");
    expect(screen.getByText(/top images? in the faithful basis/).textContent).toBe(
      `This signed mode has ${count} top images in the faithful basis: image=0–${count - 1} (ranks #1–#${count}).`,
    );
    expect(screen.queryByRole("group", { name: "Sign" })).toBeNull();
    expect(screen.queryByRole("navigation", { name: "Neighbouring modes" })).toBeNull();
    expect(screen.queryByRole("dialog")).toBeNull();
    const links = screen.getAllByRole("link").map((a) => a.getAttribute("href"));
    expect(links).toContain("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful");
    expect(links).toContain("/m/planted__shapes/L1/H2/M1?sign=pos&basis=faithful&image=0");
  });
});

describe("mode page samples across the distribution", () => {
  it("lists every band, highest first, with its range, count and sampled images, and marks the band of the address", async () => {
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      [`${MODE}/samples`]: { body: modeSamples() },
    });
    renderAt(`${URL_}&band=5`);
    const section = await screen.findByRole("region", { name: "Across the distribution" });
    const bands = await within(section).findAllByRole("region", { name: /^Band \d of 8$/ });
    expect(bands.map((b) => b.getAttribute("aria-label"))).toEqual(
      [8, 7, 6, 5, 4, 3, 2, 1].map((n) => `Band ${n} of 8`),
    );
    expect(within(bands[0]!).getByRole("heading").textContent).toBe(
      "Scores 6.000 to 9.000 (the highest): 2 images (20.0 %)",
    );
    expect(within(bands[3]!).getByText("No image of the dataset scores in this range.")).toBeTruthy();
    expect(within(bands[7]!).getAllByRole("img")).toHaveLength(2);
    expect(within(bands[7]!).getAllByText("does not fire")).toHaveLength(2);
    expect(
      bands.filter((b) => b.getAttribute("aria-current") === "true").map((b) => b.getAttribute("aria-label")),
    ).toEqual(["Band 6 of 8"]);
  });

  it("opens a sampled image in the large view with its maps computed on demand, stepping through the samples and to the next mode", async () => {
    const fetchMock = mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      [`${MODE}/samples`]: { body: modeSamples() },
      "/api/models/planted__shapes/images/planted__shapes~34/maps": (request: Request) => {
        const mode = Number(new URL(request.url).searchParams.get("mode"));
        return {
          body: datasetImageMaps({
            model: "planted__shapes",
            image_id: "planted__shapes~34",
            mode,
            score: mode + 0.25,
          }),
        };
      },
      "/api/models/planted__shapes/images/planted__shapes~35/maps": {
        body: datasetImageMaps({ model: "planted__shapes", image_id: "planted__shapes~35", score: 6.5 }),
      },
    });
    const asked = () => fetchMock.mock.calls.map(([r]) => new URL((r as Request).url));
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Across the distribution" });
    const highest = (await within(section).findAllByRole("region", { name: /^Band \d of 8$/ }))[0]!;
    fireEvent.click(within(highest).getAllByRole("button", { name: /open its maps/ })[0]!);
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByRole("heading", { level: 2 }).textContent).toBe("L1 H2 M1 pos: sampled image #1 of 9");
    await waitFor(() => expect(dialog.textContent).toContain("1.250")); // mode 1's score, fetched on the fly
    const first = asked().find((u) => u.pathname.endsWith("planted__shapes~34/maps"))!;
    expect(first.searchParams.get("v")).toBe(modelSummary().revision);
    expect([...first.searchParams.entries()].filter(([k]) => k !== "v")).toEqual([
      ["layer", "1"],
      ["head", "2"],
      ["mode", "1"],
      ["sign", "pos"],
      ["basis", "faithful"],
    ]);
    fireEvent.keyDown(dialog, { key: "]" });
    await waitFor(() => expect(dialog.textContent).toContain("2.250"));
    expect(within(dialog).getByRole("heading", { level: 2 }).textContent).toBe("L1 H2 M2 pos: sampled image #1 of 9");
    fireEvent.keyDown(dialog, { key: "ArrowRight" });
    await waitFor(() => expect(dialog.textContent).toContain("6.500"));
    expect(within(dialog).getByText("sample7-1.png")).toBeTruthy();
  });

  it("maps each histogram bar to its band: the outer bars to the end bands", () => {
    const bands = modeSamples().bands;
    expect([0, 1, 2, 8, 9].map((bar) => bandOfBar(bands, bar, 8))).toEqual([0, 0, 1, 7, 7]);
  });

  it("says an atlas built before samples must be rebuilt", async () => {
    const note =
      "this atlas was built before distribution samples (atlas format 3 or older): rebuild it to add samples";
    mockApi({
      "/api/models": { body: [modelSummary()] },
      [MODE]: { body: modeDetail() },
      [`${MODE}/samples`]: { body: modeSamples({ bands: [], per_band: 0, rule: null, samples_missing: note }) },
    });
    renderAt(URL_);
    const section = await screen.findByRole("region", { name: "Across the distribution" });
    expect((await within(section).findByRole("note")).textContent).toBe(`No samples across the distribution: ${note}.`);
  });
});

describe("mode page ties at the cut-off", () => {
  const tie = { first_rank: 1, last_rank: 1, next_score: 8, precision: "bf16" as const, epsilon: 0.004, rule: "a − b" };

  it("says next to the last places that they tie with the next image at the atlas's precision", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail({ cutoff_tie: tie }) } });
    renderAt(URL_);
    const note = await screen.findByText(/^Place 2 and the next image tie at bf16: their order is not meaningful\./);
    expect(note.textContent).toContain("(ε = 0.004 relative)");
    const cards = document.querySelectorAll(".image-card");
    expect(cards[0]!.querySelector(".tie")).toBeNull();
    expect(cards[1]!.querySelector(".tie")?.textContent).toContain("tie");
  });

  it("says nothing of ties where the last places do not tie", async () => {
    mockApi({ "/api/models": { body: [modelSummary()] }, [MODE]: { body: modeDetail() } });
    renderAt(URL_);
    await screen.findByRole("region", { name: "Score over the dataset" });
    expect(screen.queryByText(/tie at/)).toBeNull();
    expect(document.querySelector(".image-card .tie")).toBeNull();
  });
});
