// Browser tests of the upload page's "Remove modes" panel (docs/method.md#removing-modes) against the real
// backend (run by tests/e2e/test_dashboard.py, like dashboard.test.mjs): the planted red → blue mode removed
// from a dataset image, and a random-init ViT's classifier before and after on an uploaded photo.
import assert from "node:assert/strict";
import { test } from "@playwright/test";
import { axeViolations, brokenImages, pageRunner, PHONE, screenshot, url } from "./browser.mjs";

const PHOTO = process.env.QKATLAS_PHOTO;

let browser;
let PLANTED;
let TINY;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  PLANTED = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  TINY = models.find((m) => !m.planted && m.bases.includes("exact") && m.model_id.startsWith("vit_tiny"));
  assert.ok(PLANTED && TINY, "a planted-mode atlas and a tiny ViT atlas are served");
  browser = shared;
});

const withPage = pageRunner(() => browser);

/** The patch where the upload's L0 H0 M0 query map peaks (exact basis): a red patch of a planted image. */
async function redPatch(uploadId) {
  const path = `/api/uploads/${uploadId}/models/${PLANTED.slug}/layers/0/heads/0/modes/0/maps?sign=pos&basis=exact`;
  const query = (await (await fetch(url(path))).json()).query.flat();
  return query.indexOf(Math.max(...query));
}

test.describe("removing modes", () => {
  test("removing the planted red → blue mode takes a red patch's attention off blue; the modes are in the address", async () => {
    await withPage(async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}/L0/H0/M0?sign=pos&basis=faithful&image=0`));
      await page.getByRole("dialog").getByRole("button", { name: "Explore attention in this image" }).click();
      await page.waitForURL(/\/upload\/[0-9a-f]{32}\?/);
      const uploadId = new URL(page.url()).pathname.split("/").at(-1);
      const patch = await redPatch(uploadId);
      await page.goto(url(`/upload/${uploadId}?model=${PLANTED.slug}&layer=0&head=0&basis=exact&patch=${patch}`));

      const panel = page.getByRole("region", { name: "Remove modes" });
      await panel.getByText("Choose modes to remove, then run.").waitFor({ timeout: 120_000 });
      const run = panel.getByRole("button", { name: "Run without them" });
      assert.equal(await run.isDisabled(), true, "nothing to run before a mode is ticked");
      await panel.getByRole("checkbox", { name: /^M0 / }).check();
      await run.click();
      await page.waitForURL(/[?&]remove=0(&|$)/);
      const moved = panel.getByText(/This row moved ([\d.]+) of its attention/);
      await moved.waitFor({ timeout: 120_000 });
      const [, share] = /moved ([\d.]+)/.exec(await moved.innerText());
      assert.ok(Number(share) > 0.7, `the red patch's row moved ${share}`);

      // Before: the hottest patch is where the row goes (blue); after, far less of the row goes there.
      const heat = async (label) =>
        panel
          .getByRole("img", { name: new RegExp(`patches ${label} removing the modes`) })
          .locator("xpath=..")
          .locator("svg rect[data-value]")
          .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("data-value"))));
      const before = await heat("before");
      const after = await heat("after");
      const hottest = before.indexOf(Math.max(...before));
      assert.ok(before[hottest] > 3 * after[hottest], `patch ${hottest}: ${before[hottest]} → ${after[hottest]}`);
      // One stated scale for both rows; the moved map on its own fixed 0–1 scale.
      const keys = PLANTED.grid ** 2 + PLANTED.prefix_kinds.length;
      for (const when of ["before", "after"]) {
        const legend = panel.getByRole("group", { name: new RegExp(`attention probability .*, ${when} \\(one scale`) });
        assert.match(await legend.getAttribute("aria-label"), new RegExp(`N = ${keys} keys`));
      }
      const movedLegend = panel.getByRole("group", { name: /attention moved .*fixed linear scale from 0 to 1/ });
      assert.deepEqual(await movedLegend.locator(".heat-legend-tick").allInnerTexts(), ["0.0", "0.5", "1.0"]);
      await panel.getByText("This checkpoint has no classifier: only its embedding is compared.").waitFor();
      assert.deepEqual(await brokenImages(page), []);
      assert.deepEqual(await axeViolations(page), []);
      await screenshot(page, "60-remove-modes-planted");

      // The address is the view: a reload shows the same result, the mode still ticked.
      await page.reload();
      await panel.getByText(/This row moved/).waitFor({ timeout: 120_000 });
      assert.equal(await panel.getByRole("checkbox", { name: /^M0 / }).isChecked(), true);

      // All but the strongest k (by σ): the address says keep=k.
      await panel.getByRole("radio", { name: /All but the strongest/ }).check();
      await panel.getByRole("spinbutton", { name: /How many of the strongest modes/ }).fill("1");
      await panel.getByRole("button", { name: "Run without them" }).click();
      await page.waitForURL(/[?&]keep=1(&|$)/);
      await panel.getByText(/\(all but the strongest 1 by σ\)/).waitFor({ timeout: 120_000 });
      assert.equal(new URL(page.url()).searchParams.get("remove"), null);
    });
  });

  test("a model with a classifier shows its top 5 before and after, at 1440 and 390 px", async () => {
    test.skip(!PHOTO, "QKATLAS_PHOTO not set");
    for (const viewport of [undefined, PHONE]) {
      await withPage(viewport ? { viewport } : {}, async (page) => {
        await page.goto(url(`/upload?model=${TINY.slug}`));
        await page.getByLabel(/Choose an image/).setInputFiles(PHOTO);
        await page.waitForURL(/\/upload\/[0-9a-f]{32}\?model=/);
        const uploadId = new URL(page.url()).pathname.split("/").at(-1);
        await page.goto(url(`/upload/${uploadId}?model=${TINY.slug}&layer=0&head=1&basis=exact&patch=5&keep=1`));
        const panel = page.getByRole("region", { name: "Remove modes" });
        const before = panel.getByRole("table", { name: "Top 5 before" });
        await before.waitFor({ timeout: 120_000 });
        assert.equal(await before.locator("tbody tr").count(), 5);
        assert.equal(await panel.getByRole("table", { name: "Top 5 after" }).locator("tbody tr").count(), 5);
        await panel.getByText(/Cosine between the model's pooled embeddings before and after: [\d.]+ \(1 =/).waitFor();
        await panel.getByText(/This model has random weights \(its classifier too\)\./).waitFor();
        assert.equal(await panel.getByRole("radio", { name: /All but the strongest/ }).isChecked(), true);
        await panel.scrollIntoViewIfNeeded();
        await screenshot(page, viewport ? "62-remove-modes-classifier-390" : "61-remove-modes-classifier");
      });
    }
  });
});
