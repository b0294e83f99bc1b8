// Browser tests of sharing against the real backend (run by tests/e2e, like dashboard.test.mjs): the mode
// and head pages' "Share and cite" menu copies the link, the embed snippet and the citation; an address with
// `embed=1` shows only the content, the parts `parts=` names, and the link "open in qkatlas".
import assert from "node:assert/strict";
import { test } from "@playwright/test";
import { axeViolations, brokenImages, otherOriginPage, pageRunner, PHONE, screenshot, url } from "./browser.mjs";

let browser;
let PLANTED;
let CITATION;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  PLANTED = models.find((m) => m.planted);
  assert.ok(PLANTED, "a planted-mode atlas is served");
  CITATION = await (await fetch(url("/api/citation"))).json();
  browser = shared;
});

const withPage = pageRunner(() => browser);
const EMBED_VIEWPORT = { width: 600, height: 800 };

/** Clicks the copy button of the menu's field `label`; returns the clipboard's text once it says "Copied.". */
async function copy(page, panel, label) {
  await panel.getByRole("button", { name: `Copy ${label.toLowerCase()}` }).click();
  const field = panel.locator(".copy-field").filter({ has: page.getByLabel(label, { exact: true }) });
  await field.getByRole("status").filter({ hasText: "Copied." }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, await page.getByLabel(label, { exact: true }).inputValue());
  return copied;
}

test("the Share menu copies the pinned link, the embed snippet and the citation", async () => {
  const path = `/m/${PLANTED.slug}/L0/H0/M0`;
  for (const [viewport, width] of [
    [undefined, "1440"],
    [PHONE, "390"],
  ]) {
    await withPage(viewport ? { viewport } : {}, async (page) => {
      await page.goto(url(`${path}?sign=neg&basis=exact&band=1`));
      const toggle = page.getByRole("button", { name: "Share and cite" });
      await toggle.click();
      const panel = page.getByRole("region", { name: "Share and cite" });
      const link = await copy(page, panel, "Link to this view");
      // Pinned to this signed mode and basis; the picked band of the histogram is no part of it.
      assert.equal(link, url(`${path}?sign=neg&basis=exact`));

      await panel.getByRole("checkbox", { name: /images across the distribution/ }).uncheck();
      const snippet = await copy(page, panel, "Embed snippet");
      const src = /^<iframe src="([^"]+)" width="720" height="\d+" title="([^"]+)" loading="lazy"/.exec(snippet);
      assert.ok(src, snippet);
      const embed = new URL(src[1].replaceAll("&amp;", "&"));
      assert.equal(embed.pathname, path);
      assert.equal(embed.searchParams.get("embed"), "1");
      assert.equal(embed.searchParams.get("parts"), "badge,try,top,distribution,classes");
      assert.equal(src[2], `L0 H0 M0 neg, exact basis, of ${PLANTED.model_id} (qkatlas)`);

      // The citation names the software's version once its BibTeX has come.
      await panel.getByLabel("BibTeX of the software", { exact: true }).waitFor();
      const citation = await copy(page, panel, "Citation");
      const weights = PLANTED.weights_revision
        ? `weights revision ${PLANTED.weights_revision}`
        : "weights revision not recorded";
      assert.ok(
        citation.startsWith(
          `mode L0 H0 M0 (sign neg, basis exact) of ${PLANTED.model_id} (${weights}); qkatlas ${CITATION.version}, ` +
            `atlas revision ${PLANTED.revision}, dataset ${PLANTED.dataset.name} (`,
        ),
        citation,
      );
      assert.match(citation, new RegExp(`\\. ${link.replaceAll("?", "\\?")} \\(accessed \\d{4}-\\d\\d-\\d\\d\\)\\.$`));
      assert.equal(await panel.getByLabel("BibTeX of the software", { exact: true }).inputValue(), CITATION.bibtex);
      assert.deepEqual(await axeViolations(page), []);
      await screenshot(page, `80-share-menu-${width}`);
      await page.keyboard.press("Escape");
      await panel.waitFor({ state: "detached" });
      assert.equal(await toggle.evaluate((el) => el === document.activeElement), true);
    });
  }
});

test("an embed shows only the content and the parts asked for, and opens the full app in a new tab", async () => {
  const path = `/m/${PLANTED.slug}/L0/H0/M0`;
  await withPage({ viewport: EMBED_VIEWPORT }, async (page) => {
    await page.goto(url(`${path}?sign=pos&basis=exact&embed=1`));
    await page.getByRole("region", { name: "Across the distribution" }).waitFor();
    for (const chrome of ["header.site-header", "footer.site-footer", "[role=search]", ".key-hints", ".breadcrumbs"]) {
      assert.equal(await page.locator(chrome).count(), 0, chrome);
    }
    assert.equal(await page.getByRole("button", { name: "Share and cite" }).count(), 0);
    const open = page.getByRole("link", { name: /open in qkatlas/ });
    assert.equal(await open.getAttribute("href"), url(`${path}?sign=pos&basis=exact`));
    assert.equal(await open.getAttribute("target"), "_blank");
    assert.equal(await open.getAttribute("rel"), "noopener");
    // No page-level scroll trap: the document scrolls, nothing inside it has a fixed height of its own.
    const widest = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(widest <= EMBED_VIEWPORT.width, `content ${widest} px wide in a ${EMBED_VIEWPORT.width} px frame`);
    assert.deepEqual(await brokenImages(page), []);
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, "81-embed-mode-600");
    for (const width of [400, 900]) {
      await page.setViewportSize({ width, height: 800 });
      // Charts follow their box's size by a ResizeObserver, a frame or two after the viewport changes.
      const fits = await page
        .waitForFunction((w) => document.documentElement.scrollWidth <= w, width, { timeout: 5000 })
        .then(() => true)
        .catch(() => false);
      const scrolled = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(fits, `content ${scrolled} px wide in a ${width} px frame`);
    }
    await screenshot(page, "81-embed-mode-900");
    await page.setViewportSize(EMBED_VIEWPORT);

    // A link that leaves the view opens the full app in a new tab; the embed stays where it is.
    const [popup] = await Promise.all([
      page.context().waitForEvent("page"),
      page.getByRole("region", { name: "Classes" }).getByRole("link").first().click(),
    ]);
    await popup.waitForLoadState();
    assert.match(popup.url(), /\/classes\//);
    assert.equal(new URL(popup.url()).searchParams.get("embed"), null);
    assert.equal(new URL(page.url()).searchParams.get("embed"), "1");
    await popup.close();

    await page.goto(url(`${path}?sign=pos&basis=exact&embed=1&parts=top`));
    await page.getByRole("region", { name: /^Top \d+ images/ }).waitFor();
    for (const part of ["Score over the dataset", "Classes", "Across the distribution", "Try your image"]) {
      assert.equal(await page.getByRole("region", { name: part }).count(), 0, part);
    }
    assert.equal(await page.getByRole("heading", { level: 1 }).count(), 0, "no badge");
    await screenshot(page, "82-embed-mode-top-only-600");
  });
});

test("a head embeds its spectrum and its modes, each on request", async () => {
  await withPage({ viewport: EMBED_VIEWPORT }, async (page) => {
    await page.goto(url(`/m/${PLANTED.slug}/L0/H0?basis=exact&embed=1&parts=badge,modes`));
    await page.getByRole("region", { name: "Modes" }).waitFor();
    assert.match(await page.getByRole("heading", { level: 1 }).innerText(), /Head L0 H0/);
    assert.equal(await page.locator(".recharts-wrapper").count(), 0, "no spectrum chart");
    assert.equal(await page.locator("header.site-header").count(), 0);
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, "83-embed-head-600");
  });
});

test("an embed works inside an iframe of another page, and its link opens the full app", async () => {
  const path = `/m/${PLANTED.slug}/L0/H0/M0`;
  await withPage({ viewport: { width: 900, height: 1000 } }, async (page) => {
    // The host page is on another origin, as a blog post embedding the mode would be.
    const src = url(`${path}?sign=pos&basis=exact&embed=1&parts=badge,top`);
    const host = await otherOriginPage(
      `<title>A post</title><main><h1>A post</h1><iframe src="${src}" width="600" height="900" title="L0 H0 M0" style="border:0"></iframe></main>`,
    );
    await page.goto(`${host.origin}/`);
    const frame = page.frameLocator("iframe");
    await frame.getByRole("region", { name: /^Top \d+ images/ }).waitFor();
    assert.equal(await frame.locator("header.site-header").count(), 0);
    await screenshot(page, "84-embed-in-iframe-900");
    const [popup] = await Promise.all([
      page.context().waitForEvent("page"),
      frame.getByRole("link", { name: /open in qkatlas/ }).click(),
    ]);
    await popup.waitForLoadState();
    assert.equal(popup.url(), url(`${path}?sign=pos&basis=exact`));
    await popup.locator("header.site-header").waitFor();
    await popup.close();
    host.server.close();
  });
});
