// Browser tests of the attention moved by each mode against the real backend (run by tests/e2e, like
// dashboard.test.mjs): the mode page's section (mean, distribution, the images where it is largest, each
// opening the large view with its maps), the head page's column beside σ, the mode index sorted and
// filtered by it, and an atlas built without --effects, at 1440 and 390 px.
import assert from "node:assert/strict";
import { test } from "@playwright/test";
import { axeViolations, brokenImages, pageRunner, PHONE, screenshot, url } from "./browser.mjs";

let browser;
// The planted-mode atlas (built with --effects): its planted modes move the most attention in their heads.
let PLANTED;
// An atlas built without statistics and without effects.
let WITHOUT;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  PLANTED = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  assert.ok(PLANTED, "a planted-mode atlas is served");
  WITHOUT = models.find((m) => !m.statistics.computed) ?? null;
  browser = shared;
});

const withPage = pageRunner(() => browser);

test.describe("attention moved", () => {
  for (const [label, viewport] of [
    ["desktop", undefined],
    ["phone", PHONE],
  ]) {
    test(`a planted mode's page shows what it moves and opens the images where it moves the most (${label})`, async () => {
      const p = PLANTED.planted_modes[0];
      await withPage(viewport ? { viewport } : {}, async (page) => {
        await page.goto(url(`/m/${PLANTED.slug}/L${p.layer}/H${p.head}/M${p.mode}?sign=${p.sign}&basis=exact`));
        const section = page.getByRole("region", { name: "Attention moved by this mode" });
        await section.waitFor();
        const lead = await section.locator(".effect-lead").innerText();
        const match = lead.match(/moves on average (\d+\.\d) % \((\d\.\d+)\) of each patch's attention row/);
        assert.ok(match, lead);
        assert.ok(Number(match[1]) >= 1, `a planted mode moves at least 1 % of the attention: ${lead}`);
        const api = await (
          await fetch(url(`/api/models/${PLANTED.slug}/layers/${p.layer}/heads/${p.head}/modes/${p.mode}`))
        ).json();
        assert.equal(Number(match[2]).toFixed(3), api.effect.mean.toFixed(3));
        await section.getByRole("img", { name: /^Histogram of the attention moved \(0 to 1\)/ }).waitFor();
        const cards = section.getByRole("button", { name: /by attention moved: open its maps/ });
        assert.equal(await cards.count(), api.effect.top_images.length);
        assert.deepEqual(await brokenImages(page), []);
        await section.scrollIntoViewIfNeeded();
        await screenshot(page, `46-mode-attention-moved-${label}`);
        await cards.first().click();
        const dialog = page.getByRole("dialog");
        await dialog.waitFor();
        assert.match(
          await dialog.getByRole("heading", { level: 2 }).innerText(),
          new RegExp(`L${p.layer} H${p.head} M${p.mode} ${p.sign}: image by attention moved #1 of \\d`),
        );
        await dialog.locator("img").first().waitFor();
        assert.deepEqual(await brokenImages(page), []);
        assert.deepEqual(await axeViolations(page), []);
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "detached" });
      });
    });
  }

  test("the head page shows each mode's attention moved beside σ, the planted ones largest", async () => {
    const p = PLANTED.planted_modes[0];
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}/L${p.layer}/H${p.head}`));
      const table = page.getByRole("table");
      await table.waitFor();
      const headers = await table.getByRole("columnheader").allInnerTexts();
      const sigma = headers.findIndex((h) => h.startsWith("σ"));
      assert.match(headers[sigma + 1], /^attention moved/);
      const moved = (await table.locator(".effect-cell").allInnerTexts()).map((t) => Number(t.match(/\((.+)\)/)[1]));
      const planted = PLANTED.planted_modes.filter((q) => q.layer === p.layer && q.head === p.head).map((q) => q.mode);
      const largest = [...moved.keys()].sort((a, b) => moved[b] - moved[a]).slice(0, planted.length);
      assert.deepEqual(largest.sort(), planted.sort());
      await page.getByText(/strong but unused/).waitFor();
      await screenshot(page, "47-head-attention-moved");
    });
    await withPage({ viewport: PHONE }, async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}/L${p.layer}/H${p.head}`));
      await page.locator(".effect-cell").first().waitFor();
      await screenshot(page, "47-head-attention-moved-phone");
    });
  });

  test("the mode index sorts and filters by it", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}/modes`));
      await page.getByRole("button", { name: /^moved/ }).click();
      await page.waitForURL(/sort=effect/);
      const first = page
        .locator(".mode-index tbody tr")
        .filter({ has: page.getByRole("link") })
        .first();
      await first.waitFor();
      const name = await first.getByRole("link").first().getAttribute("aria-label");
      const planted = PLANTED.planted_modes.map((q) => `L${q.layer} H${q.head} M${q.mode}`);
      assert.ok(
        planted.some((n) => name.startsWith(n)),
        `the mode that moves the most is planted: ${name}`,
      );
      await page.getByLabel("Attention moved ≥ (0 to 1)").fill("0.01");
      await page.waitForURL(/min_effect=0.01/);
      // Both signs of each planted mode (they share the effect), nothing else.
      const expected = new RegExp(
        `^${2 * PLANTED.planted_modes.length} of \\d+ signed modes \\(inactive ones left out\\)$`,
      );
      await page.locator(".index-count").filter({ hasText: expected }).waitFor();
      await screenshot(page, "48-mode-index-attention-moved");
    });
  });

  test("an atlas built without --effects says how to measure it", async () => {
    test.skip(!WITHOUT, "no atlas without statistics is served");
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${WITHOUT.slug}/L0/H0/M0?sign=pos&basis=faithful`));
      const section = page.getByRole("region", { name: "Attention moved by this mode" });
      await section.getByRole("note").waitFor();
      assert.match(await section.getByRole("note").innerText(), /^Not measured: .*rebuild it with --effects/);
      await page.goto(url(`/m/${WITHOUT.slug}/L0/H0`));
      await page.getByRole("note").filter({ hasText: "--effects" }).waitFor();
      await page.goto(url(`/m/${WITHOUT.slug}/modes`));
      await page.getByRole("note").filter({ hasText: "Attention moved:" }).waitFor();
    });
  });
});
