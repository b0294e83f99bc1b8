// End-to-end tests of the dashboard against the real backend (run by tests/e2e/test_dashboard.py,
// which builds the atlases, starts Redis and the backend, and sets QKATLAS_URL and QKATLAS_PHOTO).
// Browsing uses the planted-mode atlas (QKATLAS_MODEL, or the served atlas flagged `planted`), whose
// layer 0, head 0, mode 0 is known: red patches attend to blue ones.
// By hand: QKATLAS_URL=http://127.0.0.1:8000 QKATLAS_PHOTO=photo.jpg npm run e2e
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import {
  axeViolations,
  brokenImages,
  openPage,
  pageRunner,
  PHONE,
  screenshot,
  SCREENSHOTS,
  unfoldUnrankedModes,
  url,
} from "./browser.mjs";

const PHOTO = process.env.QKATLAS_PHOTO;
// "<model id> on <dataset>" of a job the wrapper reported as running into the backend's Redis.
const RUNNING_JOB = process.env.QKATLAS_RUNNING_JOB;
// {"models": [first, second], "dataset"}: a two-model job reported with its first model done.
const MULTI_MODEL_JOB = process.env.QKATLAS_MULTI_MODEL_JOB ? JSON.parse(process.env.QKATLAS_MULTI_MODEL_JOB) : null;
// {"slug", "model_id", "title"}: a job reported done whose atlas was published after the service started.
const FINISHED_JOB = process.env.QKATLAS_FINISHED_JOB ? JSON.parse(process.env.QKATLAS_FINISHED_JOB) : null;
// {"slug", "layer", "head", "mode", "sign", "basis", "first", "k"}: a mode whose last places tie with the next image.
const TIED_MODE = process.env.QKATLAS_TIED_MODE ? JSON.parse(process.env.QKATLAS_TIED_MODE) : null;

let browser;
let MODEL;
let MODEL_NAME;
let HAS_O3;
// An atlas built without per-mode statistics, when one is served (the wrapper builds one).
let NO_STATISTICS;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  const model = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  assert.ok(model, "a planted-mode atlas is served");
  MODEL = model.slug;
  MODEL_NAME = model.model_id;
  HAS_O3 = model.has_o3;
  NO_STATISTICS = models.find((m) => !m.statistics.computed) ?? null;
  browser = shared;
});

const withPage = pageRunner(() => browser);

/** The `aria-pressed` state of the toggle button named `name` (segmented controls are toggle buttons). */
async function pressed(page, name) {
  return page.getByRole("button", { name, exact: true }).getAttribute("aria-pressed");
}

async function expectHeading(page, pattern) {
  await page.getByRole("heading", { level: 1, name: pattern }).waitFor();
}

test.describe("browsing", () => {
  test("home → model → head → mode by clicking", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      await expectHeading(page, /singular modes/);
      await page
        .getByRole("figure")
        .filter({ hasText: "cosine vs normalized depth, all models" })
        .locator(".recharts-wrapper > svg")
        .waitFor();
      await page
        .getByText(/offline demo/)
        .first()
        .waitFor();
      await screenshot(page, "01-home");

      await page.getByRole("link", { name: MODEL_NAME, exact: true }).click();
      await page.waitForURL(`**/m/${MODEL}`);
      await page.locator(".head-cell").first().waitFor();
      await page.locator(".chart .recharts-wrapper > svg").first().waitFor();
      await screenshot(page, "02-model");

      await page.getByRole("link", { name: /^L0 H0, weighted cosine/ }).click();
      await page.waitForURL(`**/m/${MODEL}/L0/H0`);
      await expectHeading(page, /Head L0 H0/);
      await page.getByRole("table").filter({ hasText: "best image" }).waitFor();
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "03-head");

      await page.getByRole("link", { name: "L0 H0 M0", exact: true }).click();
      await page.waitForURL(`**/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`);
      await expectHeading(page, /Mode L0 H0 M0/);
      await page.locator(".image-grid img").first().waitFor();
      assert.deepEqual(await brokenImages(page), []);
      assert.ok((await page.locator(".image-grid img").count()) > 0, "the mode shows its top images");
      // The planted mode (red → blue) ranks an image with red and blue patches first.
      const best = await page.locator(".image-card .label").first().innerText();
      assert.match(best, /red/);
      assert.match(best, /blue/);
      await screenshot(page, "04-mode");
    });
  });

  test("a mode permalink opens the same view directly", async () => {
    await withPage({}, async (page) => {
      const link = `/m/${MODEL}/L1/H0/M0?sign=neg&basis=exact&channel=key&palette=orange_blue&blend=0.2`;
      await page.goto(url(link));
      await expectHeading(page, /Mode L1 H0 M0/);
      assert.equal(await pressed(page, "neg (−u, −v)"), "true");
      assert.equal(await pressed(page, "exact"), "true");
      assert.equal(await pressed(page, "key"), "true");
      await page.locator(".image-grid img[src*='overlay.png']").first().waitFor();
      const src = await page.locator(".image-grid img[src*='overlay.png']").first().getAttribute("src");
      assert.match(src, /sign=neg/);
      assert.match(src, /channel=key&palette=orange_blue&blend=0\.20/);
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "05-mode-permalink-neg-exact");

      // Switching the sign keeps the view in the URL, so a reload reopens it.
      await page.getByRole("button", { name: "pos (u, v)" }).click();
      await page.waitForURL(/sign=pos/);
      await page.reload();
      await expectHeading(page, /Mode L1 H0 M0/);
      assert.equal(await pressed(page, "pos (u, v)"), "true");
      assert.equal(await pressed(page, "key"), "true");
    });
  });

  test("an unknown model gets the not-found page listing the served models", async () => {
    await withPage({}, async (page) => {
      const api = await page.request.get(url("/api/models/no-such-model"));
      assert.equal(api.status(), 404);
      await page.goto(url("/m/no-such-model"));
      await expectHeading(page, "Page not found");
      await page.getByText("No model “no-such-model” is served here.").waitFor();
      await page
        .getByRole("list", { name: "Served models" })
        .getByRole("link", { name: MODEL_NAME, exact: true })
        .waitFor();
    });
  });
});

/** Clicks a chart's download button and returns the download's file name and bytes. */
async function download(page, figure, what) {
  const [event] = await Promise.all([
    page.waitForEvent("download"),
    figure.getByRole("button", { name: `Download ${what}` }).click(),
  ]);
  assert.equal(await event.failure(), null);
  return { name: event.suggestedFilename(), bytes: await readFile(await event.path()) };
}

test.describe("charts, odd-one-out results and progress", () => {
  test("the model page draws the odd-one-out curves of both queries", async () => {
    test.skip(!HAS_O3, "the planted atlas has no odd-one-out results (run precompute o3)");
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}`));
      await page.getByRole("heading", { name: "Odd-one-out attention" }).waitFor();
      for (const query of ["target", "distractor"]) {
        const figure = page.getByRole("figure").filter({ hasText: `Attention of the ${query} query` });
        await figure.locator(".recharts-wrapper > svg").waitFor();
        // Same object, different object, background, and the three uniform-attention levels.
        assert.equal(await figure.locator(".recharts-line").count(), 6);
        for (const share of ["same object", "different object", "background"]) {
          await figure.locator(".recharts-legend-item-text", { hasText: share }).first().waitFor();
        }
      }
      await page.getByRole("heading", { name: "Odd-one-out attention" }).scrollIntoViewIfNeeded();
      await screenshot(page, "13-model-odd-one-out");
    });
  });

  test("every chart offers PNG and CSV downloads with the chart's data", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}`));
      await page.locator(".chart .recharts-wrapper > svg").first().waitFor();
      const figures = page.locator("figure.chart");
      await page.waitForFunction(
        (n) => document.querySelectorAll("figure.chart .recharts-wrapper > svg").length >= n,
        HAS_O3 ? 4 : 2,
      );
      for (let i = 0; i < (await figures.count()); i++) {
        const group = figures.nth(i).getByRole("group", { name: /^Download/ });
        assert.equal(await group.getByRole("button").count(), 2, `chart ${i} has the PNG and CSV buttons`);
      }

      const cosine = page.getByRole("figure").filter({ hasText: "Layer mean of the cosine" });
      const csv = await download(page, cosine, "CSV");
      assert.equal(csv.name, `qkatlas-${MODEL}-cosine-depth.csv`);
      const [header, first] = csv.bytes.toString("utf8").split("\r\n");
      assert.equal(header, "model,quantity,layer,normalized depth,cosine,random baseline ±");
      assert.ok(first.startsWith(`${MODEL_NAME},σ-weighted,0,0,`), first);

      const png = await download(page, cosine, "PNG");
      assert.equal(png.name, `qkatlas-${MODEL}-cosine-depth.png`);
      assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG file");
      const svgWidth = await cosine
        .locator(".recharts-wrapper > svg")
        .evaluate((svg) => svg.getBoundingClientRect().width);
      assert.ok(
        png.bytes.readUInt32BE(16) >= 2 * svgWidth,
        `rendered at 2x (${png.bytes.readUInt32BE(16)} px for ${svgWidth} px)`,
      );
      await writeFile(join(SCREENSHOTS, "14-downloaded-chart.png"), png.bytes); // to look at

      // The layers × heads grid is a chart too: one CSV row per head, and a 2x PNG of its heatmap.
      const grid = page.locator("figure.chart.head-grid");
      assert.equal(
        await grid
          .getByRole("group", { name: /^Download/ })
          .getByRole("button")
          .count(),
        2,
        "the grid has the PNG and CSV buttons",
      );
      const gridCsv = await download(page, grid, "CSV");
      assert.equal(gridCsv.name, `qkatlas-${MODEL}-head-grid.csv`);
      const gridLines = gridCsv.bytes.toString("utf8").trim().split("\r\n");
      assert.equal(gridLines[0], "model,layer,head,weighted cosine");
      assert.ok(gridLines[1].startsWith(`${MODEL_NAME},0,0,`), gridLines[1]);
      assert.equal(gridLines.length - 1, await grid.locator(".head-cell").count(), "one row per head");
      const gridPng = await download(page, grid, "PNG");
      assert.equal(gridPng.name, `qkatlas-${MODEL}-head-grid.png`);
      assert.deepEqual(
        [...gridPng.bytes.subarray(0, 8)],
        [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
        "a PNG file",
      );
      // 30 × 22 px cells with 2 px gaps, at 2x.
      const [nLayers, nHeads] = [1, 2].map(
        (column) => 1 + Math.max(...gridLines.slice(1).map((line) => Number(line.split(",")[column]))),
      );
      const [pngWidth, pngHeight] = [gridPng.bytes.readUInt32BE(16), gridPng.bytes.readUInt32BE(20)];
      assert.ok(
        pngWidth >= 2 * 32 * nHeads && pngHeight >= 2 * 24 * nLayers,
        `rendered at 2x (${pngWidth} × ${pngHeight} px for ${nLayers} × ${nHeads} heads)`,
      );
      assert.equal(await grid.getByRole("alert").count(), 0, "the PNG did not fail");
      await writeFile(join(SCREENSHOTS, "15-downloaded-head-grid.png"), gridPng.bytes); // to look at

      if (HAS_O3) {
        const target = page.getByRole("figure").filter({ hasText: "Attention of the target query" });
        const o3 = await download(page, target, "CSV");
        assert.equal(o3.name, `qkatlas-${MODEL}-o3-target-query.csv`);
        const lines = o3.bytes.toString("utf8").trim().split("\r\n");
        assert.equal(lines[0], "model,query,share,layer,normalized depth,share of attention,uniform attention");
        assert.equal(lines.length, 1 + 3 * 2, "three shares of the planted model's two layers");
      }
    });
  });

  test("a finished job links to its atlas, which the service picked up without a restart", async () => {
    test.skip(!FINISHED_JOB, "QKATLAS_FINISHED_JOB not set");
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      const panel = page.getByRole("region", { name: "Precompute jobs" });
      const job = panel.getByRole("listitem").filter({ hasText: FINISHED_JOB.title });
      await job.getByRole("link", { name: /Open the atlas/ }).click();
      await page.waitForURL(url(`/m/${FINISHED_JOB.slug}`));
      await expectHeading(page, new RegExp(FINISHED_JOB.model_id));
    });
  });

  test("a running precompute job shows on Home and in the header", async () => {
    test.skip(!RUNNING_JOB, "QKATLAS_RUNNING_JOB not set");
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      const panel = page.getByRole("region", { name: "Precompute jobs" });
      const job = panel.getByRole("listitem").filter({ hasText: RUNNING_JOB });
      await job.getByText("1,000 / 3,000 images (33.3 %)").waitFor();
      await job.getByText(/images\/s/).waitFor();
      await job.getByText(/left$/).waitFor();
      if (MULTI_MODEL_JOB) {
        // Both models of the two-model job, listed under its heading, with the whole job's progress.
        const title = `${MULTI_MODEL_JOB.models.length} models on ${MULTI_MODEL_JOB.dataset}`;
        await panel.getByRole("heading", { level: 3, name: title }).waitFor();
        await panel.getByRole("progressbar", { name: `${title}: images scored` }).waitFor();
        await panel.getByText("1 of 2 models done").waitFor();
        const models = panel.getByRole("list", { name: title }).getByRole("listitem");
        assert.equal(await models.count(), 2);
        const [first, second] = MULTI_MODEL_JOB.models;
        await models.filter({ hasText: first }).getByText("1,000 / 1,000 images (100.0 %)").waitFor();
        await models.filter({ hasText: second }).getByText("waiting to start").waitFor();
      }
      await page
        .getByRole("banner")
        .getByRole("link", { name: /Precompute 33\.3 %/ })
        .waitFor();
      if (HAS_O3)
        await page
          .getByRole("figure")
          .filter({ hasText: "share of the target query's attention, all models" })
          .locator(".recharts-wrapper > svg")
          .waitFor();
    });
  });
});

test.describe("keyboard", () => {
  test("j/k and arrows step through modes, Shift through heads, arrows through the grid", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`));
      await expectHeading(page, /Mode L0 H0 M0/);
      // Each key press, then the page it leads to (URL and heading, so the next key acts on it).
      for (const [key, where] of [
        ["j", "L0 H0 M1"],
        ["ArrowRight", "L0 H0 M2"],
        ["k", "L0 H0 M1"],
        ["Shift+ArrowRight", "L0 H1 M1"],
        ["Shift+K", "L0 H0 M1"],
        ["ArrowLeft", "L0 H0 M0"],
      ]) {
        await page.keyboard.press(key);
        const [layer, head, mode] = where.split(" ");
        await page.waitForURL(new RegExp(`/${layer}/${head}/${mode}\\?`));
        await expectHeading(page, new RegExp(`Mode ${where}\\b`));
      }

      await page.goto(url(`/m/${MODEL}`));
      const first = page.getByRole("link", { name: /^L0 H0, weighted cosine/ });
      await first.focus();
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("ArrowRight");
      const focused = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
      assert.match(focused, /^L1 H1,/);
      await page.keyboard.press("Enter");
      await page.waitForURL(/\/L1\/H1$/);
      await expectHeading(page, /Head L1 H1/);
      await page.keyboard.press("k");
      await page.waitForURL(/\/L1\/H0$/);
    });
  });

  test("Tab reaches the skip link first and it moves focus to the content", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      await expectHeading(page, /singular modes/);
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    });
  });
});

test.describe("statistics: search, the mode index, classes", () => {
  const box = (page) => page.getByRole("combobox", { name: "Search models, modes and classes" });

  test("the header search finds a mode by name or by class and opens it", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      await expectHeading(page, /singular modes/);
      // "/" focuses the box from anywhere on the page.
      await page.keyboard.press("/");
      assert.equal(await box(page).evaluate((el) => el === document.activeElement), true);
      await page.keyboard.type(`${MODEL_NAME} L0 H0 M0`);
      const listbox = page.getByRole("listbox", { name: "Search results" });
      const byName = listbox.getByRole("option", { name: new RegExp(`^${MODEL_NAME} L0 H0 M0\\b`) });
      await byName.waitFor();
      // ↓ until the planted model's mode is highlighted (other atlases' L0 H0 M0 may come first).
      const target = await byName.getAttribute("id");
      for (let i = 0; i < 10 && (await box(page).getAttribute("aria-activedescendant")) !== target; i++) {
        await page.keyboard.press("ArrowDown");
      }
      assert.equal(await box(page).getAttribute("aria-activedescendant"), target);
      assert.equal(await byName.getAttribute("aria-selected"), "true");
      await page.keyboard.press("Enter");
      await page.waitForURL(`**/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`);
      await expectHeading(page, /Mode L0 H0 M0/);

      // By class: the modes most selective for red_blue, each with its best image.
      await box(page).fill("red_blue");
      const modes = listbox.getByRole("group", { name: "Modes for the class" }).getByRole("option");
      await modes.first().waitFor();
      assert.match(await modes.first().innerText(), /L\d+ H\d+ M\d+ (pos|neg)[\s\S]*red_blue, selectivity/);
      assert.equal(await modes.first().locator("img").count(), 1, "the class mode shows its best image");
      assert.deepEqual(await axeViolations(page), [], "axe with the search results open");
      await screenshot(page, "16-search-box");
      await page.keyboard.press("Escape");
      assert.equal(await box(page).getAttribute("aria-expanded"), "false");
      // Enter without a highlighted option: every result on a page of its own.
      await page.keyboard.press("Enter");
      await page.waitForURL(/\/search\?q=red_blue$/);
      await expectHeading(page, /Search results for .red_blue./);
      await page.getByRole("heading", { name: "Modes most selective for these classes" }).waitFor();
      await page
        .getByRole("link", { name: `${MODEL_NAME} L0 H0 M0 pos` })
        .first()
        .click();
      await page.waitForURL(`**/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`);
      await expectHeading(page, /Mode L0 H0 M0/);

      // Picking a class mode in the box opens it.
      await box(page).fill("red_blue");
      const picked = listbox.getByRole("group", { name: "Modes for the class" }).getByRole("option").first();
      await picked.waitFor();
      const [layer, head, mode] = (await picked.locator(".search-option-label").innerText()).split(" ").slice(-4, -1);
      await picked.click();
      await page.waitForURL(new RegExp(`/${layer}/${head}/${mode}\\?sign=`));
      await expectHeading(page, new RegExp(`Mode ${layer} ${head} ${mode}\\b`));
    });
  });

  test("the mode index sorts and filters on the server; reload and back/forward restore the view", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}`));
      await page.getByRole("link", { name: /^Mode index: all \d+ signed modes/ }).click();
      await page.waitForURL(`**/m/${MODEL}/modes`);
      await expectHeading(page, /Mode index/);
      const table = page.getByRole("table", { name: `Signed modes of ${MODEL_NAME}` });
      await table.locator("tbody a").first().waitFor();
      // Virtualized: far fewer rows in the page than the table has.
      const total = Number(await table.getAttribute("aria-rowcount")) - 1;
      const rendered = () => table.locator("tbody tr[aria-rowindex]").count();
      assert.ok(total > 60, `${total} rows`);
      assert.ok((await rendered()) < total, `${await rendered()} of ${total} rows rendered`);
      // Scrolled to the end, the last row is there.
      await page.getByRole("region", { name: /Signed modes of/ }).evaluate((el) => (el.scrollTop = el.scrollHeight));
      await table
        .locator(`tbody tr[aria-rowindex="${total + 1}"] a`)
        .first()
        .waitFor();

      // The sorted column's name and direction; the page re-renders a moment after the URL changes, so
      // wait until its header shows `expected` (for at most 10 s) and return what it shows.
      const sortedBy = async ([name, order]) => {
        const header = table.locator(`th[aria-sort="${order}"]`).filter({
          has: page.locator(".sort-button", { hasText: new RegExp(`^\\s*${name}\\s*[▲▼↕]?\\s*$`) }),
        });
        await header.waitFor({ timeout: 10_000 }).catch(() => undefined);
        return table.evaluate((el) => {
          const th = el.querySelector("th[aria-sort]");
          const shown = th?.querySelector(".sort-button")?.textContent?.replace(/[▲▼↕]/g, "").trim();
          return [shown ?? null, th?.getAttribute("aria-sort") ?? null];
        });
      };
      const column = async (name) => {
        // A header's text without its sort arrow and its "?" help button.
        const headers = await table.locator("thead th").allInnerTexts();
        const index = headers.findIndex((h) => h.replace(/[▲▼↕?]/g, "").trim() === name);
        return table.locator(`tbody tr[aria-rowindex] td:nth-child(${index + 1})`).allInnerTexts();
      };
      await table.getByRole("button", { name: "selectivity", exact: true }).click();
      await page.waitForURL(/\?sort=selectivity$/);
      assert.deepEqual(await sortedBy(["selectivity", "descending"]), ["selectivity", "descending"]);
      await page.getByRole("region", { name: /Signed modes of/ }).evaluate((el) => (el.scrollTop = 0));
      await table.locator('tbody tr[aria-rowindex="2"] a').first().waitFor();
      const values = (await column("selectivity")).filter((v) => v !== "–").map(Number);
      assert.ok(values.length > 3, "selectivities shown");
      assert.deepEqual(
        values,
        [...values].sort((a, b) => b - a),
        "largest selectivity first",
      );

      await page.getByRole("combobox", { name: "Sign" }).selectOption("neg");
      await page.waitForURL(/\?sort=selectivity&sign=neg$/);
      await page.waitForFunction(() =>
        /^\d+ of \d+ signed modes/.test(document.querySelector(".index-count")?.textContent ?? ""),
      );
      assert.deepEqual([...new Set(await column("sign"))], ["neg"]);
      await screenshot(page, "17-mode-index");

      await page.reload();
      await table.locator("tbody a").first().waitFor();
      assert.deepEqual(await sortedBy(["selectivity", "descending"]), ["selectivity", "descending"]);
      assert.equal(await page.getByRole("combobox", { name: "Sign" }).inputValue(), "neg");
      assert.deepEqual([...new Set(await column("sign"))], ["neg"]);

      await page.goBack();
      await page.waitForURL(/\?sort=selectivity$/);
      assert.equal(await page.getByRole("combobox", { name: "Sign" }).inputValue(), "");
      assert.deepEqual(await sortedBy(["selectivity", "descending"]), ["selectivity", "descending"]);
      await page.goBack();
      await page.waitForURL(`**/m/${MODEL}/modes`);
      assert.deepEqual(await sortedBy(["layer", "ascending"]), ["layer", "ascending"]);
      await page.goForward();
      await page.waitForURL(/\?sort=selectivity$/);
      assert.deepEqual(await sortedBy(["selectivity", "descending"]), ["selectivity", "descending"]);

      // A row opens its mode.
      await table.locator('tbody tr[aria-rowindex="2"] a').first().waitFor();
      const first = table.locator('tbody tr[aria-rowindex="2"]');
      const name = await first.locator("td:nth-child(3) a").getAttribute("aria-label");
      await first.locator("td:nth-child(5)").click();
      const [layer, head, mode, sign] = name.split(" ");
      await page.waitForURL(new RegExp(`/${layer}/${head}/${mode}\\?sign=${sign}&basis=faithful$`));
    });
  });

  test("the mode index fits 1440 px, sorts values largest first, keeps the sorted column in view and its place on Back and reload", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}/modes`));
      const table = page.getByRole("table", { name: `Signed modes of ${MODEL_NAME}` });
      const region = page.getByRole("region", { name: /Signed modes of/ });
      await table.locator("tbody a").first().waitFor();
      await table.getByRole("button", { name: "selectivity", exact: true }).click();
      await page.waitForURL(/\?sort=selectivity$/);
      await table.locator('th[aria-sort="descending"]').waitFor();
      // At 1440 px nothing is clipped: the table fits its box, and the sorted column's header and cells are inside it.
      assert.deepEqual(
        await region.evaluate((el) => [el.scrollWidth <= el.clientWidth, el.scrollLeft]),
        [true, 0],
        "no sideways scrolling at 1440 px",
      );
      const box = await region.boundingBox();
      const inside = async (locator) => {
        const b = await locator.boundingBox();
        return b.x >= box.x && b.x + b.width <= box.x + box.width && b.x + b.width <= 1440;
      };
      const sortedIndex = await table.evaluate((el) =>
        [...el.querySelectorAll("thead th")].findIndex((th) => th.hasAttribute("aria-sort")),
      );
      assert.ok(await inside(table.locator("th[aria-sort]")), "the sorted column's header is in view");
      assert.ok(
        await inside(table.locator(`tbody tr[aria-rowindex="2"] td:nth-child(${sortedIndex + 1})`)),
        "its cells are in view",
      );
      assert.ok(await inside(table.locator("thead th").last()), "the last column is in view");
      // Largest first, on the first click.
      const selectivities = (
        await table.locator(`tbody tr[aria-rowindex] td:nth-child(${sortedIndex + 1})`).allInnerTexts()
      )
        .filter((v) => v !== "–")
        .map(Number);
      assert.ok(selectivities.length > 3);
      assert.deepEqual(
        selectivities,
        [...selectivities].sort((a, b) => b - a),
        "largest selectivity first",
      );
      await screenshot(page, "17-mode-index-1440-selectivity");

      // Scrolled down in the table and the page, a mode, then Back: the same place.
      await region.evaluate((el) => (el.scrollTop = 1000));
      await page.evaluate(() => window.scrollTo(0, 200));
      const place = () => page.evaluate(() => [window.scrollY, document.querySelector(".mode-index-scroll").scrollTop]);
      const [pageY, tableY] = await place();
      assert.ok(pageY > 0 && tableY === 1000, `scrolled: ${pageY}, ${tableY}`);
      // The page keeps the place for its address once the scroll events have come.
      await page.waitForFunction(
        (expected) => Object.values(sessionStorage).includes(expected),
        JSON.stringify({ page: pageY, inner: tableY }),
      );
      const placeRestored = () =>
        page
          .waitForFunction(
            ([y, t]) => window.scrollY === y && document.querySelector(".mode-index-scroll")?.scrollTop === t,
            [pageY, tableY],
            { timeout: 10_000 },
          )
          .catch(async () => assert.deepEqual(await place(), [pageY, tableY], "the place restored"));
      const row = table.locator("tbody tr[aria-rowindex]:not([aria-busy]) td:nth-child(3) a").nth(3);
      // Opened without the pointer: a click would scroll the row into view first.
      await row.dispatchEvent("click");
      await page.waitForURL(/\/M\d+\?sign=/);
      await expectHeading(page, /Mode /);
      await page.goBack();
      await page.waitForURL(/\?sort=selectivity$/);
      await table.locator("tbody a").first().waitFor();
      await placeRestored();
      await page.reload();
      await table.locator("tbody a").first().waitFor();
      await placeRestored();
    });
  });

  test("at 390 px the mode index scrolls sideways with the mode's name in view and the sorted column shown", async () => {
    await withPage({ viewport: PHONE }, async (page) => {
      await page.goto(url(`/m/${MODEL}/modes?sort=selectivity`));
      const table = page.getByRole("table", { name: `Signed modes of ${MODEL_NAME}` });
      const region = page.getByRole("region", { name: /Signed modes of/ });
      await table.locator("tbody a").first().waitFor();
      const box = await region.boundingBox();
      const sorted = await table.locator("th[aria-sort]").boundingBox();
      // Scrolled into view: it starts right after the sticky columns (wider than the room left, its end may be cut).
      const sticky = await table.locator("thead th.identifying-last").boundingBox();
      assert.ok(
        Math.abs(sorted.x - (sticky.x + sticky.width)) <= 1 && sorted.x + 40 < box.x + box.width,
        `the sorted column is scrolled into view: ${JSON.stringify([sorted, sticky, box])}`,
      );
      // The mode's name stays at the left edge while the table is scrolled sideways.
      const name = await table.locator('tbody tr[aria-rowindex="2"] td:nth-child(3)').boundingBox();
      assert.ok(name.x >= box.x && name.x + name.width <= box.x + box.width, "the mode's name is in view");
      await screenshot(page, "17-mode-index-390-selectivity");
    });
  });

  test("a mode page draws the score distribution and the class profile", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`));
      await expectHeading(page, /Mode L0 H0 M0/);
      const figure = page.getByRole("figure").filter({ hasText: /^Score of L0 H0 M0 pos on each of the/ });
      await figure.locator(".recharts-wrapper > svg").waitFor();
      // Every bin and the two outside counts in its data; bars where there are images.
      assert.ok((await figure.locator(".chart-data tbody tr").count()) > 10, "one row per bin");
      assert.ok((await figure.locator(".recharts-bar-rectangle path").count()) >= 1, "bars drawn");
      assert.ok((await figure.locator(".line-top").count()) >= 1, "the top images are marked");
      assert.match(await figure.getByRole("img").getAttribute("aria-label"), /^Histogram of the score of L0 H0 M0 pos/);
      await page.getByText(/^\d+ of \d+ images \(/).waitFor(); // fires on
      const classes = page.getByRole("region", { name: "Classes" });
      const best = classes.getByRole("row").nth(1);
      assert.equal(await best.getByRole("link").innerText(), "red_blue");
      await page.getByRole("heading", { name: "Score over the dataset" }).scrollIntoViewIfNeeded();
      await screenshot(page, "18-mode-distribution");

      // A mode that never fires says so.
      const never = await (await fetch(url(`/api/models/${MODEL}/modes?never_fires=true&limit=1`))).json();
      if (never.rows.length > 0) {
        const [row] = never.rows;
        await page.goto(url(`/m/${MODEL}/L${row.layer}/H${row.head}/M${row.mode}?sign=${row.sign}&basis=faithful`));
        await page.getByRole("note").filter({ hasText: "Never fires" }).waitFor();
      }

      // The class profile leads to the class page.
      await page.goto(url(`/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`));
      await page
        .getByRole("region", { name: "Classes" })
        .getByRole("link", { name: "red_blue", exact: true })
        .first()
        .click();
      await page.waitForURL("**/classes/red_blue");
      await expectHeading(page, /Class .red_blue./);
    });
  });

  for (const [viewport, size] of [
    [undefined, "1440"],
    [PHONE, "390"],
  ]) {
    test(`a mode page says when its last places tie with the next image at the atlas's precision (${size} px)`, async () => {
      assert.ok(TIED_MODE, "the wrapper names a mode whose last places tie");
      const { slug, layer, head, mode, sign, basis, first, k } = TIED_MODE;
      await withPage({ viewport }, async (page) => {
        await page.goto(url(`/m/${slug}/L${layer}/H${head}/M${mode}?sign=${sign}&basis=${basis}`));
        await expectHeading(page, new RegExp(`Mode L${layer} H${head} M${mode}`));
        const places = first + 1 === k ? `Place ${k}` : `Places ${first + 1}–${k}`;
        const note = page.getByRole("note").filter({ hasText: `${places} and the next image tie at fp32` });
        await note.waitFor();
        assert.match(await note.innerText(), /their order is not meaningful\. Their scores lie within/);
        // The tied cards say so; the ones above them do not.
        const cards = page.locator(".image-grid .image-card");
        assert.equal(await cards.count(), k);
        for (let rank = 0; rank < k; rank += 1) {
          assert.equal(await cards.nth(rank).locator(".tie").count(), rank >= first ? 1 : 0, `card ${rank + 1}`);
        }
        // The model's facts name the precision.
        await page.goto(url(`/m/${slug}`));
        await page.locator(".facts dt", { hasText: "precision" }).waitFor();
        assert.equal(await page.locator(".facts div", { hasText: "precision" }).locator("dd").innerText(), "fp32");
        await page.goto(url(`/m/${slug}/L${layer}/H${head}/M${mode}?sign=${sign}&basis=${basis}`));
        await note.scrollIntoViewIfNeeded();
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
        assert.deepEqual(await axeViolations(page), [], "axe with the tie note and badges");
        await screenshot(page, `27-mode-cutoff-tie-${size}`);
      });
    });
  }

  for (const [viewport, colorScheme, size] of [
    [undefined, "light", "1440"],
    [PHONE, "dark", "390"],
  ]) {
    test(`a mode page shows images across its distribution and a histogram bar opens its band (${size} px, ${colorScheme})`, async () => {
      await withPage({ ...(viewport ? { viewport } : {}), colorScheme }, async (page) => {
        const mode = `/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`;
        const api = await (
          await fetch(url(`/api/models/${MODEL}/layers/0/heads/0/modes/0/samples?sign=pos&basis=faithful`))
        ).json();
        await page.goto(url(mode));
        const section = page.getByRole("region", { name: "Across the distribution" });
        const bands = section.getByRole("region", { name: /^Band \d of 8$/ });
        await bands.first().waitFor();
        assert.equal(await bands.count(), 8);
        // Highest band first, each with its count and its sampled images, as the API has them.
        for (let row = 0; row < 8; row++) {
          const band = api.bands[7 - row];
          const region = bands.nth(row);
          assert.match(
            await region.getByRole("heading").innerText(),
            new RegExp(`: ${band.count.toLocaleString("en")} images?`),
          );
          assert.equal(await region.getByRole("img").count(), band.images.length);
        }
        assert.deepEqual(await brokenImages(page), []);
        // A bar of the histogram selects its band: the address keeps it, the band is marked and in view.
        const figure = page.getByRole("figure").filter({ hasText: /^Score of L0 H0 M0 pos on each of the/ });
        await figure.locator(".recharts-wrapper > svg").waitFor();
        const bar = figure.locator(".recharts-bar-rectangle path").first();
        await bar.click({ force: true });
        await page.waitForURL(/band=\d/);
        const picked = Number(new URL(page.url()).searchParams.get("band"));
        const marked = section.locator('[aria-current="true"]');
        assert.equal(await marked.getAttribute("aria-label"), `Band ${picked + 1} of 8`);
        assert.ok(api.bands[picked].count > 0, "a drawn bar has images");
        await expect(marked).toBeInViewport();
        await page.reload();
        await section.locator('[aria-current="true"]').waitFor();
        await section.scrollIntoViewIfNeeded();
        await screenshot(page, `19-mode-samples-${size}-${colorScheme}`);
        assert.deepEqual(await axeViolations(page), []);

        // A sampled image opens the large view with its maps under the mode, computed on demand; ] steps
        // to the same image under the head's next mode.
        await section
          .getByRole("button", { name: /open its maps/ })
          .first()
          .click();
        const dialog = page.getByRole("dialog", { name: /^L0 H0 M0 pos: sampled image #1 of / });
        await dialog.waitFor();
        await dialog.getByRole("status").filter({ hasText: "original file" }).waitFor();
        await dialog.getByRole("img", { name: /of L0 H0 M0 pos on sampled image 1/ }).waitFor();
        await page.keyboard.press("]");
        const next = page.getByRole("dialog", { name: /^L0 H0 M1 pos: sampled image #1 of / });
        await next.getByRole("status").filter({ hasText: "original file" }).waitFor();
        assert.deepEqual(await brokenImages(page), []);
        await screenshot(page, `19-mode-sample-large-view-${size}-${colorScheme}`);
      });
    });
  }

  test("the class page shows each model's most selective modes side by side", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/classes/red_blue"));
      await expectHeading(page, /Class .red_blue./);
      await unfoldUnrankedModes(page);
      const columns = page.locator("section.class-column");
      await columns
        .first()
        .getByRole("link", { name: /L\d+ H\d+ M\d+ (pos|neg)/ })
        .first()
        .waitFor();
      const n = await columns.count();
      assert.ok(n >= 2, `${n} models side by side`);
      const planted = columns.filter({ has: page.getByRole("heading", { name: MODEL_NAME, exact: true }) });
      assert.equal(
        await planted
          .getByRole("link", { name: /L\d+ H\d+ M\d+ (pos|neg)/ })
          .first()
          .innerText(),
        "L0 H0 M0 pos",
      );
      // Side by side on a desktop: the columns share a row.
      const tops = await columns.evaluateAll((els) => els.map((el) => Math.round(el.getBoundingClientRect().top)));
      assert.equal(new Set(tops.slice(0, 2)).size, 1, `columns at ${tops}`);
      assert.deepEqual(await brokenImages(page), []);
      if (NO_STATISTICS) {
        await page.getByRole("note").filter({ hasText: NO_STATISTICS.model_id }).waitFor();
      }
      await screenshot(page, "19-class");
    });
  });

  test("the class page shows the class's own images under a mode; the large view steps to the next mode", async () => {
    for (const [viewport, colorScheme] of [
      [undefined, "light"],
      [PHONE, "dark"],
    ]) {
      await withPage({ ...(viewport ? { viewport } : {}), colorScheme }, async (page) => {
        await page.goto(url("/classes/red_blue"));
        await expectHeading(page, /Class .red_blue./);
        await unfoldUnrankedModes(page);
        const planted = page
          .locator("section.class-column")
          .filter({ has: page.getByRole("heading", { name: MODEL_NAME, exact: true }) });
        const own = planted.getByRole("list", { name: "Images of the class under L0 H0 M0 pos" });
        // Maps computed on demand from the image's file: the overlay appears once they are there.
        const overlay = own.getByRole("img", { name: /query map .* of L0 H0 M0 pos on / }).first();
        await overlay.waitFor();
        const source = (await overlay.getAttribute("alt")).replace(/^.* on /, "");
        assert.match(source, /^red_blue\//, "an image of the class red_blue");
        await own
          .getByText(/^score -?\d/)
          .first()
          .waitFor();
        assert.deepEqual(await brokenImages(page), []);
        await screenshot(page, `19-class-images-${colorScheme}`);

        await own.getByRole("button").first().click();
        const dialog = page.getByRole("dialog", { name: /^L0 H0 M0 pos: image of the class #1 of / });
        await dialog.waitFor();
        await dialog.getByRole("status").filter({ hasText: "original file" }).waitFor();
        await page.keyboard.press("]");
        const next = page.getByRole("dialog", { name: /^L0 H0 M1 pos: image of the class #1 of / });
        await next.waitFor();
        await next.getByRole("img", { name: new RegExp(`of L0 H0 M1 pos on image of the class 1`) }).waitFor();
        await next.getByRole("status").filter({ hasText: "original file" }).waitFor();
        await next.getByRole("button", { name: "[ L0 H0 M0 pos" }).waitFor();
        assert.deepEqual(await brokenImages(page), []);
        await screenshot(page, `19-class-large-view-${colorScheme}`);
      });
    }
  });

  test("an atlas without statistics says so on its mode index and mode pages", async () => {
    test.skip(!NO_STATISTICS, "no atlas without statistics is served");
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${NO_STATISTICS.slug}/modes`));
      // The atlas has no attention moved either: that note says "rebuild" too.
      await page.getByRole("note").filter({ hasText: "Per-mode statistics" }).filter({ hasText: "rebuild" }).waitFor();
      await page.getByRole("note").filter({ hasText: "Attention moved" }).filter({ hasText: "--effects" }).waitFor();
      const table = page.getByRole("table", { name: `Signed modes of ${NO_STATISTICS.model_id}` });
      await table.locator("tbody a").first().waitFor();
      assert.equal(await table.getByRole("button", { name: "mean", exact: true }).count(), 0);
      assert.equal(await table.locator('tbody tr[aria-rowindex="2"] td:nth-child(10)').innerText(), "—");
      await page.goto(url(`/m/${NO_STATISTICS.slug}/L0/H0/M0?sign=pos&basis=faithful`));
      const note = page.getByRole("region", { name: "Score over the dataset" }).getByRole("note");
      assert.match(await note.innerText(), /not computed.*rebuild/);
      assert.deepEqual(await axeViolations(page), []);
    });
  });
});

test.describe("upload", () => {
  test("a photo gives ranked modes with maps, and the exact basis its attention rows", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    await withPage({}, async (page) => {
      await page.goto(url(`/upload?model=${MODEL}`));
      await expectHeading(page, /own image/);
      await screenshot(page, "06-upload");
      await page.getByLabel(/Choose an image/).setInputFiles(PHOTO);
      await page.waitForURL(/\/upload\/[^/?]+\?model=/);
      await page.locator(".ranked-mode").first().waitFor({ timeout: 120_000 });
      assert.ok((await page.locator(".ranked-mode").count()) >= 1);
      await page.locator(".ranked-mode .your-image img").first().waitFor();
      await page.locator(".ranked-mode figure:not(.your-image) img").first().waitFor();
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "07-upload-ranked");

      // The upload link works on its own (anyone with it, while cached).
      const permalink = page.url();
      const other = await openPage(browser);
      await other.page.goto(permalink);
      await other.page.locator(".ranked-mode").first().waitFor({ timeout: 120_000 });
      await other.context.close();

      await page.getByRole("button", { name: "exact", exact: true }).click();
      await page.waitForURL(/basis=exact/);
      const picker = page.getByRole("application", { name: /Patch picker/ });
      await picker.waitFor();
      const box = await picker.boundingBox();
      await picker.click({ position: { x: box.width * 0.3, y: box.height * 0.6 } });
      await page.waitForURL(/patch=\d+/);
      await page.getByRole("heading", { name: "Modes driving this row" }).waitFor({ timeout: 120_000 });
      assert.ok((await page.locator(".drive-list li").count()) >= 2);
      // Keyboard picking: move the cursor and press Enter.
      await picker.focus();
      await page.keyboard.press("ArrowUp");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Modes driving this row" }).waitFor({ timeout: 120_000 });
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "08-upload-exact-attention");
    });
  });

  test("a photo's whole-model ranking and every model's top modes link to the modes' pages", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    await withPage({}, async (page) => {
      await page.goto(url(`/upload?model=${MODEL}`));
      await page.getByLabel(/Choose an image/).setInputFiles(PHOTO);
      await page.waitForURL(/\/upload\/[^/?]+\?model=/);
      const panel = page.getByRole("region", { name: "Modes this image drives most — whole model" });
      const entries = panel.getByRole("link");
      await entries.first().waitFor({ timeout: 120_000 });
      // Only modes that contribute are listed (never padded with contributions of 0): as many as the API ranks.
      const uploadId = new URL(page.url()).pathname.split("/").at(-1);
      const ranked = async (slug, limit) =>
        (await (await fetch(url(`/api/uploads/${uploadId}/models/${slug}/modes?limit=${limit}`))).json()).modes;
      const top10 = await ranked(MODEL, 10);
      assert.ok(top10.length >= 1 && top10.every((m) => m.contribution > 0));
      assert.equal(await entries.count(), top10.length, "the top (at most 10) modes of the whole model");
      // Every served model has its column, with its top 5.
      const models = await (await fetch(url("/api/models"))).json();
      const across = page.getByRole("region", { name: "Across every served model" });
      for (const model of models) {
        const name = `${model.model_id} on ${model.dataset.name}`;
        const column = across.getByRole("listitem", { name, exact: true });
        await column.getByRole("link").first().waitFor({ timeout: 120_000 });
        const top5 = (await ranked(model.slug, 5)).length;
        assert.equal(await column.getByRole("link").count(), top5, `${model.slug} lists its top (at most) 5`);
      }
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "16-upload-whole-model");

      const first = entries.first();
      const name = (await first.innerText()).match(/L\d+ H\d+ M\d+/)[0];
      const href = await first.getAttribute("href");
      // The mode's page with the upload attached.
      assert.match(
        href,
        new RegExp(`^/m/${MODEL}/L\\d+/H\\d+/M\\d+\\?sign=(pos|neg)&basis=faithful&upload=${uploadId}$`),
      );
      await first.click();
      await page.waitForURL(url(href));
      await expectHeading(page, new RegExp(`Mode ${name}\\b`));
      await page.locator(".image-grid img").first().waitFor();
    });
  });

  test("upload → a mode → Back shows the same upload", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    await withPage({}, async (page) => {
      await page.goto(url(`/upload?model=${MODEL}`));
      await page.getByLabel(/Choose an image/).setInputFiles(PHOTO);
      await page.waitForURL(/\/upload\/[^/?]+\?model=/);
      const uploaded = page.url();
      const link = page.locator(".ranked-mode h3 a").first();
      await link.waitFor({ timeout: 120_000 });
      await link.scrollIntoViewIfNeeded();
      const scrolled = await page.evaluate(() => window.scrollY);
      await page.waitForTimeout(100);
      await link.click();
      await expectHeading(page, /Mode /);
      await page.goBack();
      await page.waitForURL(uploaded);
      await page.getByRole("heading", { name: new RegExp(`Your image in ${MODEL_NAME}`) }).waitFor();
      await page.locator(".ranked-mode").first().waitFor();
      await page.waitForFunction((y) => Math.abs(window.scrollY - y) <= 1, scrolled);
      await screenshot(page, "09-upload-after-back");
    });
  });

  test("a bad upload shows the API's message", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/upload"));
      const body = Buffer.from("this is not an image\n");
      const api = await page.request.post(url("/api/uploads"), {
        multipart: { file: { name: "notes.jpg", mimeType: "image/jpeg", buffer: body } },
      });
      const expected = (await api.json()).detail;
      assert.ok(api.status() >= 400 && api.status() < 500, `API answered ${api.status()}`);
      await page
        .getByLabel(/Choose an image/)
        .setInputFiles({ name: "notes.jpg", mimeType: "image/jpeg", buffer: body });
      const alert = page.getByRole("alert");
      await alert.waitFor();
      assert.ok((await alert.innerText()).includes(expected), `alert shows "${expected}"`);
      await screenshot(page, "09-upload-error");
    });
  });
});

test.describe("layout and accessibility", () => {
  // An analysed upload, so that its page is checked with its rankings (every model's) showing.
  let uploadId;
  test.beforeAll(async () => {
    if (!PHOTO) return;
    const form = new FormData();
    form.append("file", new Blob([await readFile(PHOTO)]), "photo.jpg");
    const response = await fetch(url("/api/uploads"), { method: "POST", body: form });
    assert.equal(response.status, 201);
    uploadId = (await response.json()).id;
  });

  // A function: MODEL is known only once `before` has asked the API.
  const pages = () => [
    ["home", "/"],
    ["model", `/m/${MODEL}`],
    ["head", `/m/${MODEL}/L0/H0`],
    ["mode", `/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`],
    ["mode-large-view", `/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful&image=0`],
    ["mode-index", `/m/${MODEL}/modes?sort=selectivity`],
    ["class", "/classes/red_blue"],
    ["classes", "/classes"],
    ["search", "/search?q=red"],
    ["upload", "/upload"],
    ...(uploadId
      ? [
          ["upload-analysis", `/upload/${uploadId}?model=${MODEL}`],
          ["upload-explorer", `/upload/${uploadId}?model=${MODEL}&layer=0&head=0&basis=exact&patch=9`],
        ]
      : []),
    ["not-found-layer", `/m/${MODEL}/L99/H0/M0`],
    ["not-found-upload", "/upload/deadbeef"],
  ];

  for (const colorScheme of ["light", "dark"]) {
    test(`axe finds no serious or critical violations (${colorScheme}); a screenshot of each page type at 1440 px`, async () => {
      await withPage({ colorScheme }, async (page) => {
        for (const [name, path] of pages()) {
          await page.goto(url(path));
          await page.locator("main h1").waitFor();
          await page.waitForFunction(() => !document.querySelector(".status-loading"), null, { timeout: 60_000 });
          assert.deepEqual(await axeViolations(page), [], `axe on ${path}`);
          await screenshot(page, `20-desktop-${colorScheme}-${name}`);
        }
      });
    });
  }

  test("every page is usable at 390 px (no horizontal scrolling), in dark mode too", async () => {
    await withPage({ viewport: PHONE }, async (page) => {
      for (const [name, path] of pages()) {
        await page.goto(url(path));
        await page.locator("main h1").waitFor();
        await page.waitForFunction(() => !document.querySelector(".status-loading"), null, { timeout: 60_000 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow} px at 390 px`);
        await screenshot(page, `10-phone-${name}`);
      }
    });
    await withPage({ viewport: PHONE, colorScheme: "dark" }, async (page) => {
      for (const [name, path] of pages()) {
        await page.goto(url(path));
        await page.locator("main h1").waitFor();
        await screenshot(page, `11-phone-dark-${name}`);
      }
    });
  });

  test("the dark-mode toggle switches, says its state and is remembered", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}`));
      const toggle = page.locator(".theme-toggle");
      // Its name and its visible text say the state, as aria-pressed does.
      await page.getByRole("button", { name: "Dark mode: off", exact: true }).waitFor();
      assert.equal(await toggle.getAttribute("aria-pressed"), "false");
      assert.match(await toggle.innerText(), /Dark mode: off/);
      await toggle.click();
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
      await page.getByRole("button", { name: "Dark mode: on", exact: true }).waitFor();
      assert.equal(await toggle.getAttribute("aria-pressed"), "true");
      assert.match(await toggle.innerText(), /Dark mode: on/);
      await page.reload();
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
      assert.equal(
        await page.getByRole("button", { name: "Dark mode: on", exact: true }).getAttribute("aria-pressed"),
        "true",
      );
      await page.locator(".head-cell").first().waitFor();
      await screenshot(page, "12-model-dark");
    });
  });
});
