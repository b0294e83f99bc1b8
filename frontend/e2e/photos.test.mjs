// Browser tests of the photos under the maps, the large view of a top image and the attention
// explorer, against the real backend (run by tests/e2e/test_dashboard.py, like dashboard.test.mjs).
// The planted atlas's L0 H0 M0 is "red patches attend to blue patches"; its images are coloured
// squares on grey, aligned to the patch grid.
import assert from "node:assert/strict";
import { test } from "@playwright/test";
import { axeViolations, brokenImages, pageRunner, PHONE, screenshot, unfoldUnrankedModes, url } from "./browser.mjs";

const PHOTO = process.env.QKATLAS_PHOTO;

let browser;
let MODEL;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  MODEL = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  assert.ok(MODEL, "a planted-mode atlas is served");
  browser = shared;
});

const withPage = pageRunner(() => browser);

const modeUrl = (search = "") => `/m/${MODEL.slug}/L0/H0/M0?sign=pos&basis=faithful${search}`;

/** The RGB of every pixel of the image at `src`, drawn at `size` × `size` in the page. */
async function pixels(page, src, size) {
  return page.evaluate(
    async ([source, side]) => {
      const image = new Image();
      image.src = source;
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = side;
      canvas.height = side;
      const context = canvas.getContext("2d");
      context.drawImage(image, 0, 0, side, side);
      const data = context.getImageData(0, 0, side, side).data;
      return Array.from({ length: side * side }, (_, i) => [data[4 * i], data[4 * i + 1], data[4 * i + 2]]);
    },
    [src, size],
  );
}

/** The pixels [start, stop) of patch row (or column) `index`, as the renderer lays patches out. */
function patchBounds(index, grid, size) {
  return [Math.ceil((index * size) / grid), Math.ceil(((index + 1) * size) / grid)];
}

/** The pixel indices (row-major, `size` × `size`) that the outlines of the maps' two peaks may cover. */
function outlinedPixels(maps, size) {
  const reach = 5; // the key peak's dashed ring ends 5 px outside its patch
  const covered = new Set();
  for (const peak of [maps.query_peak, maps.key_peak]) {
    const [y0, y1] = patchBounds(peak.row, maps.grid, size);
    const [x0, x1] = patchBounds(peak.column, maps.grid, size);
    for (let y = Math.max(y0 - reach, 0); y < Math.min(y1 + reach, size); y++)
      for (let x = Math.max(x0 - reach, 0); x < Math.min(x1 + reach, size); x++) covered.add(y * size + x);
  }
  return covered;
}

/** The dashboard's number format (lib/common/format `fmt`). */
function fmt(value, digits) {
  const abs = Math.abs(value);
  return abs !== 0 && (abs >= 1e4 || abs < 1e-3) ? value.toExponential(2) : value.toFixed(digits);
}

const isRed = ([r, g, b]) => r > 150 && g < 90 && b < 90;
const isBlue = ([r, g, b]) => b > 150 && r < 90 && g < 90;

/** The colour of each patch of a `grid` × `grid` image (its centre pixel), row-major. */
async function patchColours(page, src, grid) {
  const side = grid * 8;
  const rgb = await pixels(page, src, side);
  return Array.from({ length: grid * grid }, (_, p) => rgb[(Math.floor(p / grid) * 8 + 4) * side + (p % grid) * 8 + 4]);
}

/** Clicks the centre of patch `index` of the patch picker. */
async function clickPatch(picker, index, grid) {
  const box = await picker.boundingBox();
  const row = Math.floor(index / grid);
  const col = index % grid;
  await picker.click({ position: { x: ((col + 0.5) * box.width) / grid, y: ((row + 0.5) * box.height) / grid } });
}

/** Every image `images` finds is at least 160 px wide (large enough to judge). */
async function expectWide(images, what) {
  const widths = await images.evaluateAll((els) => els.map((el) => el.getBoundingClientRect().width));
  assert.ok(widths.length > 0 && Math.min(...widths) >= 160, `${what} ${widths.join(", ")} px wide`);
}

test.describe("photos under the maps", () => {
  test("the overlay shows the photo in colour; opacity and brightness are in the URL and survive a reload", async () => {
    await withPage(async (page) => {
      await page.goto(url(modeUrl()));
      // The first overlay (the planted model's cards show the clean photo beside it).
      const first = page.locator(".image-grid img[src*='overlay.png']").first();
      await first.waitFor();

      const opacity = page.getByRole("slider", { name: "Map opacity" });
      const brightness = page.getByRole("slider", { name: "Photo brightness" });
      await opacity.focus();
      await page.keyboard.press("Home");
      await brightness.focus();
      await page.keyboard.press("End");
      // Brightness 1 is the default, which the address leaves out.
      await page.waitForURL((u) => u.searchParams.get("opacity") === "0" && !u.searchParams.has("blend"));
      await page.waitForFunction(() =>
        document
          .querySelector(".image-grid img[src*='overlay.png']")
          ?.getAttribute("src")
          ?.includes("blend=1.00&opacity=0.00"),
      );
      assert.deepEqual(await brokenImages(page), []);

      // Opacity 0, brightness 1: the overlay is the clean photo, colours and all.
      const overlaySrc = await first.getAttribute("src");
      const top = (
        await (await fetch(url(`/api/models/${MODEL.slug}/layers/0/heads/0/modes/0?sign=pos&basis=faithful`))).json()
      ).top_images[0];
      const size = MODEL.image_size;
      const overlay = await pixels(page, overlaySrc, size);
      const photo = await pixels(page, top.thumbnail_url, size);
      // Away from the outlines of the score's two patches, which every overlay draws.
      const maps = await (await fetch(url(top.maps_url))).json();
      const outlined = outlinedPixels(maps, size);
      const red = photo.map((p, i) => (isRed(p) && !outlined.has(i) ? i : -1)).filter((i) => i >= 0);
      assert.ok(red.length > 0, "the best image of red → blue has red pixels");
      for (const i of red) assert.ok(isRed(overlay[i]), `pixel ${i} stays red: ${overlay[i]}`);
      const differences = overlay.flatMap((p, i) =>
        outlined.has(i) ? [] : p.map((v, c) => Math.abs(v - photo[i][c])),
      );
      const largest = Math.max(...differences);
      assert.ok(largest <= 40, `the overlay matches the photo (largest difference ${largest})`);

      await page.reload();
      assert.equal(await opacity.inputValue(), "0");
      assert.equal(await brightness.inputValue(), "1");
      assert.match(await first.getAttribute("src"), /blend=1\.00&opacity=0\.00/);
      await screenshot(page, "20-mode-photo-in-colour");
    });
  });
});

test.describe("the large view of a top image", () => {
  test("opens from a top image with photo, overlay, label, source and score; arrows move, Escape closes", async () => {
    await withPage(async (page) => {
      await page.goto(url(modeUrl()));
      const cards = page.locator(".image-card a:has(img)");
      await cards.first().waitFor();
      const count = await cards.count();
      assert.ok(count >= 2, "the mode has several top images");
      await cards.first().click();
      await page.waitForURL(/[?&]image=0/);
      const dialog = page.getByRole("dialog");
      await dialog.getByRole("heading", { name: `L0 H0 M0 pos: top image #1 of ${count}` }).waitFor();
      assert.ok(await dialog.getByRole("img", { name: /as the model saw it/ }).isVisible());
      assert.ok(await dialog.getByRole("img", { name: /query map .* of L0 H0 M0 pos on top image 1/ }).isVisible());
      assert.deepEqual(await brokenImages(page), []);
      // The facts against the API's own answer for this signed mode's best image.
      const best = (
        await (await fetch(url(`/api/models/${MODEL.slug}/layers/0/heads/0/modes/0?sign=pos&basis=faithful`))).json()
      ).top_images[0];
      const fact = async (label) =>
        (
          await dialog
            .locator("dl > div", { has: page.locator("dt", { hasText: label }) })
            .locator("dd")
            .innerText()
        ).trim();
      assert.equal(await fact("class"), best.label);
      assert.match(best.label, /red.*blue/);
      assert.equal(await fact("source file"), best.source);
      assert.equal(await fact("score"), best.score.toFixed(3));
      assert.deepEqual(await axeViolations(page), []);
      await screenshot(page, "21-large-view");

      await page.keyboard.press("ArrowRight");
      await dialog.getByRole("heading", { name: /top image #2 of/ }).waitFor();
      assert.match(page.url(), /[?&]image=1/);
      assert.match(page.url(), /\/M0\?/, "the page behind stays on the mode");
      await page.keyboard.press("j");
      await dialog.getByRole("heading", { name: /top image #3 of/ }).waitFor();
      await page.keyboard.press("ArrowLeft");
      await page.keyboard.press("k");
      await dialog.getByRole("heading", { name: /top image #1 of/ }).waitFor();

      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      assert.doesNotMatch(page.url(), /image=/);
      assert.equal(await cards.first().evaluate((a) => a === document.activeElement), true, "focus returns");
    });
  });

  test("'Explore attention in this image' opens its upload view: a red query patch attends most to blue", async () => {
    await withPage(async (page) => {
      await page.goto(url(modeUrl("&image=0")));
      const dialog = page.getByRole("dialog");
      await dialog.getByRole("button", { name: "Explore attention in this image" }).click();
      await page.waitForURL(/\/upload\/[0-9a-f]{32}\?/);
      const view = new URL(page.url());
      assert.equal(view.searchParams.get("model"), MODEL.slug);
      assert.equal(view.searchParams.get("layer"), "0");
      assert.equal(view.searchParams.get("head"), "0");
      assert.equal(view.searchParams.get("mode"), "0");
      assert.equal(view.searchParams.get("sign"), "pos");
      await page.getByText(/This is a dataset image \(red_blue\)/).waitFor();
      // The mode it came from is marked in the head's ranking (and only that one).
      const marked = page.locator(".ranked-mode[aria-current=true]");
      await marked.waitFor({ timeout: 120_000 });
      assert.equal(await marked.count(), 1);
      assert.match(await marked.getByRole("heading").innerText(), /L0 H0 M0 pos/);
      await marked.getByText("The mode you came from").waitFor();

      const explorer = page.getByRole("region", { name: "Attention of one patch" });
      const picker = explorer.getByRole("application", { name: /Patch picker/ });
      await picker.waitFor();
      assert.equal(await picker.evaluate((el) => el === document.activeElement), true, "the explorer has the focus");
      const grid = MODEL.grid;
      const colours = await patchColours(
        page,
        await explorer.locator(".patch-heatmap img").first().getAttribute("src"),
        grid,
      );
      const redPatch = colours.findIndex(isRed);
      assert.ok(redPatch >= 0 && colours.some(isBlue), "the image has red and blue patches");
      await clickPatch(picker, redPatch, grid);
      await page.waitForURL(new RegExp(`patch=${redPatch}\\b`));
      await explorer.getByRole("heading", { name: "Modes driving this row" }).waitFor({ timeout: 120_000 });

      // The row's heat: the most attended patch is blue (red → blue is the head's planted mode).
      const heat = await explorer
        .locator(".attention-row .patch-heatmap svg rect[data-value]")
        .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("data-value"))));
      const hottest = heat.indexOf(Math.max(...heat));
      assert.ok(isBlue(colours[hottest]), `the hottest patch ${hottest} is blue: ${colours[hottest]}`);
      assert.equal(
        await explorer.locator(".drive-list li a").first().innerText(),
        "L0 H0 M0",
        "the red → blue mode drives the row most",
      );
      const legend = explorer.getByRole("group", {
        name: /Colour scale: attention probability from the selected query patch/,
      });
      // A fixed scale in probabilities with the uniform level 1/N marked (N: every key, prefix included).
      const keys = grid * grid + MODEL.prefix_kinds.length;
      const ticks = await legend.locator(".heat-legend-tick").allInnerTexts();
      assert.deepEqual(ticks, [
        String(Number((1 / keys ** 2).toPrecision(2))),
        `1/N = ${Number((1 / keys).toPrecision(2))}`,
        "1",
      ]);
      assert.equal(await legend.locator(".heat-legend-mark").count(), 1, "the uniform level is marked on the bar");
      // The row's spread: entropy and effective number of keys, out of N.
      const spread = await explorer.locator(".row-spread").innerText();
      const [, entropy, effective, n] = /Entropy ([\d.]+) nats .*exp\(H\) = ([\d.]+) of N = (\d+)/.exec(spread) ?? [];
      assert.equal(Number(n), keys, spread);
      assert.ok(Math.abs(Math.exp(Number(entropy)) - Number(effective)) < 0.1 * Number(effective), spread);
      assert.ok(Number(effective) >= 1 && Number(effective) <= keys, spread);
      await explorer
        .getByText(new RegExp(`^Query patch ${redPatch} \\(row \\d+, column \\d+\\), counted from 0`))
        .waitFor();
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "22-dataset-image-attention");
    });
  });
});

test.describe("every top image opens its large view", () => {
  /** Clicks `image` and expects the large view of `name` (a mode) at 1-based rank `rank`. */
  async function expectLargeView(page, image, name, rank) {
    await image.click();
    await page.waitForURL(new RegExp(`/${name.replaceAll(" ", "/")}\\?.*image=${rank - 1}`));
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: new RegExp(`top image #${rank} of`) }).waitFor();
    assert.ok(await dialog.getByRole("img", { name: /as the model saw it/ }).isVisible());
  }

  test("from a head's mode list, a class page and an upload's ranked modes", async () => {
    await withPage(async (page) => {
      await page.goto(url(`/m/${MODEL.slug}/L0/H0`));
      const best = page.locator("table .thumb").first();
      await best.waitFor();
      await expectLargeView(page, best, "L0 H0 M0", 1);

      await page.goto(url("/classes/red_blue"));
      await unfoldUnrankedModes(page);
      const thumbs = page
        .getByRole("list", { name: /^Best images of/ })
        .first()
        .getByRole("link");
      await thumbs.first().waitFor();
      assert.ok((await thumbs.count()) >= 2, "a class's mode shows several of its top images");
      const href = new URL(await thumbs.nth(1).getAttribute("href"), url("/"));
      const [, layer, head, mode] = /\/L(\d+)\/H(\d+)\/M(\d+)$/.exec(href.pathname);
      await expectLargeView(page, thumbs.nth(1), `L${layer} H${head} M${mode}`, 2);

      test.skip(!PHOTO, "QKATLAS_PHOTO not set");
      await page.goto(url(`/upload?model=${MODEL.slug}`));
      await page.getByLabel(/Choose an image/).setInputFiles(PHOTO);
      await page.waitForURL(/\/upload\/[0-9a-f]{32}\?model=/);
      const dataset = page.locator("figure a:has(img[alt*='on dataset image 1 '])").first();
      await dataset.waitFor({ timeout: 120_000 });
      const alt = await dataset.locator("img").getAttribute("alt");
      const [name] = /L\d+ H\d+ M\d+/.exec(alt);
      await expectLargeView(page, dataset, name, 1);
    });
  });
});

test.describe("the attention explorer on an uploaded photo", () => {
  test("is offered in the default view; a picked patch switches to the exact basis and says why", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    await withPage(async (page) => {
      await page.goto(url(`/upload?model=${MODEL.slug}`));
      await page.getByLabel(/Choose an image/).setInputFiles(PHOTO);
      await page.waitForURL(/\/upload\/[0-9a-f]{32}\?model=/);
      await page.getByText(new RegExp(`As ${MODEL.model_id} sees it: .+`)).waitFor();

      const explorer = page.getByRole("region", { name: "Attention of one patch" });
      const picker = explorer.getByRole("application", { name: /Patch picker/ });
      await picker.waitFor();
      assert.equal(await page.getByRole("group", { name: "Basis" }).getByText("faithful").isVisible(), true);
      assert.doesNotMatch(page.url(), /basis=exact/);
      await clickPatch(picker, 0, MODEL.grid);
      await page.waitForURL(/basis=exact/);
      assert.match(page.url(), /patch=0\b/);
      await explorer.getByText(/^Switched to the exact basis: only there do the modes add up exactly/).waitFor();
      await explorer.getByRole("heading", { name: "Modes driving this row" }).waitFor({ timeout: 120_000 });
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "23-upload-explorer-switched");
    });
  });
});

test.describe("upload addresses that name no upload", () => {
  for (const [path, text] of [
    ["/upload/deadbeef", /This is not an upload address/],
    [`/upload/${"0".repeat(32)}`, /This upload has expired: uploads are kept for 24 hours/],
  ]) {
    test(`${path} says so, with no live controls`, async () => {
      await withPage(async (page) => {
        await page.goto(url(path));
        await page.getByText(text).waitFor();
        const link = page.getByRole("link", { name: "Upload an image" });
        assert.equal(await link.getAttribute("href"), "/upload");
        const main = page.locator("main");
        for (const control of ["input", "select", "[role=application]"]) {
          assert.equal(await main.locator(control).count(), 0, `no ${control} on ${path}`);
        }
        assert.deepEqual(await axeViolations(page), []);
        await screenshot(page, path.length > 20 ? "24-upload-expired" : "24-upload-malformed");
      });
    });
  }
});

test.describe("pictures that do not mislead", () => {
  const modeApi = () => url(`/api/models/${MODEL.slug}/layers/0/heads/0/modes/0?sign=pos&basis=faithful`);

  test("one numbered colour scale per mode, the score's two patches outlined, the planted photo beside its maps", async () => {
    await withPage(async (page) => {
      const detail = await (await fetch(modeApi())).json();
      await page.goto(url(modeUrl()));
      const query = page.getByRole("group", { name: /^Colour scale: query map/ });
      const key = page.getByRole("group", { name: /^Colour scale: key map/ });
      await query.waitFor();
      // The bars' numbers are the mode's scale from the API: 0 to its largest value, in quarters.
      const quarters = (top) => ["≤ 0", ...[0.25, 0.5, 0.75, 1].map((f) => fmt(top * f, 2))];
      assert.deepEqual(await query.locator(".heat-legend-tick").allInnerTexts(), quarters(detail.map_scale.query));
      assert.deepEqual(await key.locator(".heat-legend-tick").allInnerTexts(), quarters(detail.map_scale.key));
      // The scale is the largest value over every listed top image's maps (computed here from the maps).
      const allMaps = await Promise.all(detail.top_images.map(async (t) => (await fetch(url(t.maps_url))).json()));
      const largest = (name) => Math.max(0, ...allMaps.flatMap((m) => m[name].flat()));
      assert.equal(detail.map_scale.query, largest("query"));
      assert.equal(detail.map_scale.key, largest("key"));
      await page
        .getByText(/solid box: the query map's highest patch/)
        .first()
        .waitFor();

      // The planted model's cards show the photo beside its maps, so its colours can be checked by eye.
      const firstCard = page.locator(".image-card").first();
      assert.equal(await firstCard.locator("img").count(), 2);
      assert.match(await firstCard.locator("img").first().getAttribute("alt"), /as the model saw it/);

      // The query map's highest patch, found here from its maps by argmax, carries the solid white outline.
      await firstCard.locator("a:has(img)").click();
      const dialog = page.getByRole("dialog");
      const overlay = dialog.getByRole("img", { name: /query map .* of L0 H0 M0 pos on top image 1/ });
      await overlay.waitFor();
      await dialog.getByText(/solid box: the query map's highest patch/).waitFor();
      const maps = allMaps[0];
      const flat = maps.query.flat();
      const peak = flat.indexOf(Math.max(...flat));
      const size = MODEL.image_size;
      const rgb = await pixels(page, await overlay.getAttribute("src"), size);
      const [y0] = patchBounds(Math.floor(peak / maps.grid), maps.grid, size);
      const [x0, x1] = patchBounds(peak % maps.grid, maps.grid, size);
      for (let x = x0; x < x1; x++) {
        assert.deepEqual(rgb[y0 * size + x], [255, 255, 255], `the outline's top edge is white at x = ${x}`);
      }
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "25-large-view-scale-and-peaks");

      // Channel "key": one bar, the key's.
      await page.keyboard.press("Escape");
      await page.getByRole("button", { name: "key", exact: true }).click();
      await key.waitFor();
      // The query's bar goes once the page has re-rendered for the new channel (it was there before the click).
      await query.waitFor({ state: "detached" });
    });
  });

  test("thumbnails are at least 160 px wide at 1440 px on the mode, head, class and upload pages and open the large view by keyboard", async () => {
    const pages = [
      ["mode", modeUrl(), ".image-grid img"],
      ["head", `/m/${MODEL.slug}/L0/H0`, "table .thumb"],
      ["class", "/classes/red_blue", ".class-mode-thumbs img"],
    ];
    await withPage(async (page) => {
      for (const [name, path, selector] of pages) {
        await page.goto(url(path));
        if (name === "class") await unfoldUnrankedModes(page);
        const images = page.locator(selector);
        await images.first().waitFor();
        await expectWide(images, `${name} thumbnails`);
        if (name === "class") {
          // The class's own images under each mode (their maps computed on demand) too.
          const own = page.locator(".class-images img");
          await own.first().waitFor();
          await expectWide(own, "the class's own images");
        }
        // The keyboard: focus the thumbnail's link and press Enter.
        await images.first().locator("xpath=ancestor::a[1]").focus();
        await page.keyboard.press("Enter");
        await page.waitForURL(/[?&]image=\d+/);
        await page
          .getByRole("dialog")
          .getByRole("img", { name: /as the model saw it/ })
          .waitFor();
      }
      // An upload's ranked modes: its overlay and the mode's dataset images (here the upload is a dataset image).
      const best = (await (await fetch(modeApi())).json()).top_images[0];
      const made = await fetch(url(`/api/images/${best.image_id}/upload`), { method: "POST" });
      assert.equal(made.status, 201);
      const { upload } = await made.json();
      await page.goto(url(`/upload/${upload.id}?model=${MODEL.slug}`));
      const ranked = page.locator(".ranked-mode-images img");
      await ranked.first().waitFor({ timeout: 120_000 });
      await expectWide(ranked, "upload thumbnails");
      // A dataset image's thumbnail (your image's opens the mode's page with it attached).
      await page.locator(".ranked-mode-images a:has(img[alt*='on dataset image'])").first().focus();
      await page.keyboard.press("Enter");
      await page.waitForURL(/[?&]image=\d+/);
      await page
        .getByRole("dialog")
        .getByRole("img", { name: /as the model saw it/ })
        .waitFor();
      await page.goBack();
      await ranked.first().waitFor();
      await screenshot(page, "26-pictures-1440-light-upload");
    });
    for (const colorScheme of ["light", "dark"]) {
      for (const [viewport, width] of [
        [undefined, 1440],
        [PHONE, 390],
      ]) {
        await withPage({ colorScheme, ...(viewport ? { viewport } : {}) }, async (page) => {
          for (const [name, path] of [...pages, ["large-view", modeUrl("&image=0")]]) {
            await page.goto(url(path));
            await page.locator("main h1").waitFor();
            assert.deepEqual(await brokenImages(page), []);
            await screenshot(page, `26-pictures-${width}-${colorScheme}-${name}`);
          }
        });
      }
    }
  });
});
