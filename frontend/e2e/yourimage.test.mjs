// Browser tests of "Try your image" on a mode page (an upload's maps, score and standing in the mode's
// dataset distribution, carried by `?upload=<id>`) and of the upload page's ranking cards that open it,
// against the real backend (run by tests/e2e/test_dashboard.py, like dashboard.test.mjs).
import assert from "node:assert/strict";
import { test } from "@playwright/test";
import { brokenImages, DESKTOP, pageRunner, PHONE, screenshot, url } from "./browser.mjs";

const PHOTO = process.env.QKATLAS_PHOTO;
const UPLOAD_ID = /^[0-9a-f]{32}$/;

let browser;
let MODEL;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  MODEL = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  assert.ok(MODEL, "a planted-mode atlas is served");
  browser = shared;
});

const withPage = pageRunner(() => browser);

const modeUrl = (mode, search = "") => `/m/${MODEL.slug}/L0/H0/M${mode}?sign=pos&basis=faithful${search}`;

/** The upload id the page's address carries, or null. */
const attachedUpload = (page) => new URL(page.url()).searchParams.get("upload");

/** What the API says of the upload's standing for L0 H0 M`mode` pos, faithful. */
async function apiStanding(uploadId, mode) {
  const path = `/api/uploads/${uploadId}/models/${MODEL.slug}/layers/0/heads/0/modes/${mode}/standing`;
  return (await fetch(url(`${path}?sign=pos&basis=faithful`))).json();
}

/** "93.4 %" as the page words a percentile (to 0.1 %, never rounded up). */
const percentText = (p) => `${(Math.floor(p * 10 + 1e-9) / 10).toFixed(1)} %`;

/** Waits for the attached upload's standing sentence and checks it against the API's numbers. */
async function expectStanding(page, mode) {
  const sentence = page.getByTestId("your-image-standing");
  await sentence.waitFor({ timeout: 120_000 });
  const body = await apiStanding(attachedUpload(page), mode);
  const s = body.standing;
  assert.ok(s, `a distribution is stored: ${body.standing_missing}`);
  const percent = s.exact
    ? percentText(s.percentile_low)
    : `${percentText(s.percentile_low).slice(0, -2)}–${(Math.ceil(s.percentile_high * 10 - 1e-9) / 10).toFixed(1)} %`;
  const lead =
    s.exact && s.below_at_least === 0
      ? "Not higher than any"
      : s.exact && s.below_at_least === s.count
        ? "Higher than all"
        : `Higher than ${percent}`;
  assert.equal(
    await sentence.innerText(),
    `${lead} of the ${s.count.toLocaleString("en")} images of ${MODEL.dataset.name}`,
  );
  // The marker on the histogram, labelled, apart from the top images' lines.
  const figure = page.getByRole("figure").filter({ hasText: /^Score of L0 H0 M\d+ pos on each of the/ });
  // (A vertical line has no width, so it is never "visible" to Playwright: it is checked as attached.)
  await figure.locator(".line-marker").waitFor({ state: "attached" });
  assert.equal(await figure.locator(".line-marker").count(), 1);
  await figure.locator("svg").getByText("your image", { exact: true }).waitFor();
  assert.match(await figure.getByRole("img").getAttribute("aria-label"), /Marked apart: your image, score /);
  return body;
}

test.describe("your image on a mode page", () => {
  test("an upload on a mode page shows its score, percentile and histogram marker; the URL carries it through reload, steps and Back", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    await withPage({}, async (page) => {
      await page.goto(url(modeUrl(0)));
      const panel = page.getByRole("region", { name: "Try your image" });
      await panel.getByLabel(/Choose an image/).setInputFiles(PHOTO);
      await page.waitForURL((u) => UPLOAD_ID.test(u.searchParams.get("upload") ?? ""));
      const uploadId = attachedUpload(page);
      const body = await expectStanding(page, 0);
      // The score shown is the API's (written as `fmt` writes numbers: 3 decimals, or exponential).
      const shown = await page.locator(".your-image-facts dd").first().innerText();
      const abs = Math.abs(body.score);
      const written = abs !== 0 && (abs >= 1e4 || abs < 1e-3) ? body.score.toExponential(2) : body.score.toFixed(3);
      assert.equal(shown, written);
      assert.deepEqual(await brokenImages(page), []);
      await screenshot(page, "40-mode-your-image");

      // A reload shows the same.
      await page.reload();
      await expectStanding(page, 0);
      assert.equal(attachedUpload(page), uploadId);

      // The step key keeps it; Back returns to the mode it was tried on, still attached.
      await page.keyboard.press("ArrowRight");
      await page.waitForURL(url(modeUrl(1, `&upload=${uploadId}`)));
      await expectStanding(page, 1);
      await page.goBack();
      await page.waitForURL(url(modeUrl(0, `&upload=${uploadId}`)));
      await expectStanding(page, 0);
      // Back once more: the page before the upload was attached.
      await page.goBack();
      await page.waitForURL(url(modeUrl(0)));
      await page.getByRole("region", { name: "Try your image" }).waitFor();

      // On another mode's page it is offered among the recent uploads, attached with one click.
      await page.goto(url(modeUrl(2)));
      const recent = page.getByRole("button", { name: `Your upload ${uploadId.slice(0, 8)}` });
      await recent.click();
      await page.waitForURL(url(modeUrl(2, `&upload=${uploadId}`)));
      await expectStanding(page, 2);
    });
  });

  test("a shared link with the upload looks the same at 390 px and in dark mode", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    // Upload as the browser would, then open the address in fresh pages (another browser's view).
    let shared;
    await withPage({}, async (page) => {
      await page.goto(url(modeUrl(0)));
      await page
        .getByRole("region", { name: "Try your image" })
        .getByLabel(/Choose an image/)
        .setInputFiles(PHOTO);
      await page.waitForURL((u) => UPLOAD_ID.test(u.searchParams.get("upload") ?? ""));
      shared = new URL(page.url()).pathname + new URL(page.url()).search;
    });
    for (const [name, options] of [
      ["41-mode-your-image-dark", { viewport: DESKTOP, colorScheme: "dark" }],
      ["42-phone-mode-your-image", { viewport: PHONE }],
      ["43-phone-dark-mode-your-image", { viewport: PHONE, colorScheme: "dark" }],
    ]) {
      await withPage(options, async (page) => {
        await page.goto(url(shared));
        await expectStanding(page, 0);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
        assert.deepEqual(await brokenImages(page), []);
        await page.getByRole("region", { name: "Your image" }).scrollIntoViewIfNeeded();
        await screenshot(page, name);
      });
    }
  });

  test("an upload the server does not have says so and offers to remove it", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(modeUrl(0, `&upload=${"0".repeat(32)}`)));
      const alert = page.getByRole("alert").filter({ hasText: "This upload is no longer on the server." });
      await alert.waitFor();
      await screenshot(page, "44-mode-your-image-expired");
      await alert.getByRole("button", { name: "Remove it from this page" }).click();
      await page.waitForURL(url(modeUrl(0)));
      await page.getByRole("region", { name: "Try your image" }).waitFor();
    });
  });

  test("a ranking card on the upload page opens the mode page with the upload; its thumbnails open the large view", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    await withPage({}, async (page) => {
      await page.goto(url(`/upload?model=${MODEL.slug}`));
      await page.getByLabel(/Choose an image/).setInputFiles(PHOTO);
      await page.waitForURL(/\/upload\/[0-9a-f]{32}\?model=/);
      const uploadId = new URL(page.url()).pathname.split("/").at(-1);
      const card = page.locator(".ranked-mode").first();
      const title = card.locator("h3 a");
      await title.waitFor({ timeout: 120_000 });
      const href = await title.getAttribute("href");
      assert.match(
        href,
        new RegExp(`^/m/${MODEL.slug}/L0/H0/M\\d+\\?sign=(pos|neg)&basis=faithful&upload=${uploadId}$`),
      );
      await title.click();
      await page.waitForURL(url(href));
      await page.getByTestId("your-image-standing").waitFor({ timeout: 120_000 });

      // Back on the upload page, a dataset thumbnail of the card opens its large view, upload still attached.
      await page.goBack();
      const thumbnail = page.locator(".ranked-mode").first().locator(".ranked-mode-images figure:not(.your-image) a");
      await thumbnail.first().waitFor({ timeout: 60_000 });
      await thumbnail.first().click();
      const dialog = page.getByRole("dialog");
      await dialog.waitFor();
      const opened = new URL(page.url());
      assert.equal(opened.searchParams.get("image"), "0");
      assert.equal(opened.searchParams.get("upload"), uploadId);
      await screenshot(page, "45-large-view-from-ranking-card");
    });
  });
});
