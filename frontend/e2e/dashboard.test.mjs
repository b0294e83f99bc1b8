// End-to-end tests of the dashboard against the real backend (run by tests/e2e/test_dashboard.py,
// which builds the atlases, starts Redis and the backend, and sets QKATLAS_URL and QKATLAS_PHOTO).
// Browsing uses the planted-mode atlas (QKATLAS_MODEL, or the served atlas flagged `planted`), whose
// layer 0, head 0, mode 0 is known: red patches attend to blue ones.
// By hand: QKATLAS_URL=http://127.0.0.1:8000 QKATLAS_PHOTO=photo.jpg npm run e2e
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { axeViolations, brokenImages, launch, openPage, PHONE, screenshot, url } from "./browser.mjs";

const PHOTO = process.env.QKATLAS_PHOTO;

let browser;
let MODEL;
let MODEL_NAME;
before(async () => {
  const models = await (await fetch(url("/api/models"))).json();
  const model = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  assert.ok(model, "a planted-mode atlas is served");
  MODEL = model.slug;
  MODEL_NAME = model.model_id;
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Opens a page, runs `body`, then checks that nothing failed on the way (no 5xx, no page errors). */
async function withPage(options, body) {
  const { page, context, problems } = await openPage(browser, options);
  try {
    await body(page);
    assert.deepEqual(problems, [], "server errors or page errors");
  } finally {
    await context.close();
  }
}

async function expectHeading(page, pattern) {
  await page.getByRole("heading", { level: 1, name: pattern }).waitFor();
}

describe("browsing", () => {
  test("home → model → head → mode by clicking", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      await expectHeading(page, /singular modes/);
      await page.getByRole("figure").filter({ hasText: "all models" }).locator(".recharts-wrapper > svg").waitFor();
      await page.getByText(/offline demo/).first().waitFor();
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
      const link = `/m/${MODEL}/L1/H0/M2?sign=neg&basis=exact&channel=key&palette=orange_blue&blend=0.2`;
      await page.goto(url(link));
      await expectHeading(page, /Mode L1 H0 M2/);
      assert.equal(await page.getByRole("radio", { name: "neg (−u, −v)" }).isChecked(), true);
      assert.equal(await page.getByRole("radio", { name: "exact" }).isChecked(), true);
      assert.equal(await page.getByRole("radio", { name: "key" }).isChecked(), true);
      await page.locator(".image-grid img").first().waitFor();
      const src = await page.locator(".image-grid img").first().getAttribute("src");
      assert.match(src, /sign=neg/);
      assert.match(src, /channel=key&palette=orange_blue&blend=0\.20/);
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "05-mode-permalink-neg-exact");

      // Switching the sign keeps the view in the URL, so a reload reopens it.
      await page.getByRole("radio", { name: "pos (u, v)" }).click();
      await page.waitForURL(/sign=pos/);
      await page.reload();
      await expectHeading(page, /Mode L1 H0 M2/);
      assert.equal(await page.getByRole("radio", { name: "pos (u, v)" }).isChecked(), true);
      assert.equal(await page.getByRole("radio", { name: "key" }).isChecked(), true);
    });
  });

  test("an unknown model shows the API's message", async () => {
    await withPage({}, async (page) => {
      const api = await page.request.get(url("/api/models/no-such-model"));
      assert.equal(api.status(), 404);
      await page.goto(url("/m/no-such-model"));
      await page.getByRole("alert").waitFor();
      const text = await page.getByRole("alert").innerText();
      assert.match(text, /^Not found\./);
      assert.ok(text.includes((await api.json()).detail), text);
    });
  });
});

describe("keyboard", () => {
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

describe("upload", () => {
  test("a photo gives ranked modes with maps, and the exact basis its attention rows", async (t) => {
    if (!PHOTO) return t.skip("QKATLAS_PHOTO not set");
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

      await page.getByRole("radio", { name: "exact" }).click();
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

  test("a bad upload shows the API's message", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/upload"));
      const body = Buffer.from("this is not an image\n");
      const api = await page.request.post(url("/api/uploads"), {
        multipart: { file: { name: "notes.jpg", mimeType: "image/jpeg", buffer: body } },
      });
      const expected = (await api.json()).detail;
      assert.ok(api.status() >= 400 && api.status() < 500, `API answered ${api.status()}`);
      await page.getByLabel(/Choose an image/).setInputFiles({ name: "notes.jpg", mimeType: "image/jpeg", buffer: body });
      const alert = page.getByRole("alert");
      await alert.waitFor();
      assert.ok((await alert.innerText()).includes(expected), `alert shows "${expected}"`);
      await screenshot(page, "09-upload-error");
    });
  });
});

describe("layout and accessibility", () => {
  // A function: MODEL is known only once `before` has asked the API.
  const pages = () => [
    ["home", "/"],
    ["model", `/m/${MODEL}`],
    ["head", `/m/${MODEL}/L0/H0`],
    ["mode", `/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`],
    ["upload", "/upload"],
  ];

  for (const colorScheme of ["light", "dark"]) {
    test(`axe finds no serious or critical violations (${colorScheme})`, async () => {
      await withPage({ colorScheme }, async (page) => {
        for (const [, path] of pages()) {
          await page.goto(url(path));
          await page.locator("main h1").waitFor();
          await page.waitForFunction(() => !document.querySelector(".status-loading"), null, { timeout: 60_000 });
          assert.deepEqual(await axeViolations(page), [], `axe on ${path}`);
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
      await page.goto(url(`/m/${MODEL}/L0/H0/M0?sign=pos&basis=faithful`));
      await page.locator(".image-grid img").first().waitFor();
      await screenshot(page, "11-phone-mode-dark");
    });
  });

  test("the dark-mode toggle switches and is remembered", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${MODEL}`));
      const toggle = page.getByRole("button", { name: /Dark mode/ });
      assert.equal(await toggle.getAttribute("aria-pressed"), "false");
      await toggle.click();
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
      await page.reload();
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
      await page.locator(".head-cell").first().waitFor();
      await screenshot(page, "12-model-dark");
    });
  });
});
