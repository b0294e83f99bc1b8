// Browser test of the mode page's "Similar modes" against the real backend (run by tests/e2e, like
// dashboard.test.mjs): the planted model and the tiny ViT over the same planted images are compared, the
// tiny ViT over the photos is not; the planted set's few classes fold the list away as "not a finding".
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "@playwright/test";
import { axeViolations, pageRunner, PHONE, screenshot, SCREENSHOTS, url } from "./browser.mjs";

let browser;
let PLANTED;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  PLANTED = models.find((m) => m.planted);
  assert.ok(PLANTED, "a planted-mode atlas is served");
  browser = shared;
});

const withPage = pageRunner(() => browser);

test("a mode page lists the similar modes of the models on its dataset, folded away when the classes are too few", async () => {
  const api = `/api/models/${PLANTED.slug}/layers/0/heads/0/modes/0/similar?sign=pos&basis=exact`;
  const answer = await (await fetch(url(api))).json();
  assert.equal(answer.unavailable, null);
  assert.ok(answer.too_few, "the planted set's classes are too few to mean anything");
  assert.equal(answer.models[0].model, PLANTED.slug);
  assert.ok(answer.models.length >= 2, "another served model is on the planted images");
  assert.ok(answer.other_datasets.length >= 1, "the photos' atlases are not compared");
  const other = answer.models[1];
  const best = other.modes[0];

  for (const [viewport, width] of [
    [undefined, "1440"],
    [PHONE, "390"],
  ]) {
    await withPage(viewport ? { viewport } : {}, async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}/L0/H0/M0?sign=pos&basis=exact`));
      const section = page.getByRole("region", { name: "Similar modes" });
      await section.getByRole("note").waitFor();
      assert.match(await section.getByRole("note").innerText(), /^Not a finding: only \d+ classes have scored images/);
      const fold = section.locator("details.class-modes-unranked");
      assert.equal(await fold.getAttribute("open"), null, "folded away");
      await fold.locator("summary").click();
      const column = section.locator(".similar-model").nth(1);
      assert.equal(await column.locator("h3").innerText(), other.model_id);
      const item = column.locator("li").first();
      const expected = `L${best.layer} H${best.head} M${best.mode} ${best.sign}`;
      assert.equal(await item.getByRole("link").innerText(), expected);
      const facts = await item.locator(".similar-facts").innerText();
      assert.match(
        facts,
        new RegExp(`^r = ${best.correlation < 0 ? "-" : ""}\\d\\.\\d\\d over ${answer.n_classes} classes`),
      );
      assert.ok(facts.includes(`${best.shared_top_images} of ${best.top_images} top image`), facts);
      assert.match(await section.locator(".similar-model h3").first().innerText(), /\(this model\)$/);
      assert.deepEqual(await axeViolations(page), []);
      await section.scrollIntoViewIfNeeded();
      await screenshot(page, `70-similar-modes-${width}`);
      await section.screenshot({ path: join(SCREENSHOTS, `71-similar-modes-section-${width}.png`) });
      if (width === "1440") {
        await item.getByRole("link").click();
        await page.waitForURL(
          (at) =>
            at.pathname === `/m/${other.model}/L${best.layer}/H${best.head}/M${best.mode}` &&
            at.searchParams.get("sign") === best.sign &&
            at.searchParams.get("basis") === "exact",
        );
        await page.getByRole("region", { name: "Similar modes" }).waitFor();
      }
    });
  }
});
