// Browser test of "Download figure" on the mode and head pages against the real backend (run by tests/e2e, like
// dashboard.test.mjs): each format downloads as a named file, the PNG at 300 dpi, the SVG with its text as paths.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
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

/** The pixels per metre of a PNG's pHYs chunk ([x, y]), or null without one. */
function pngPixelsPerMetre(bytes) {
  const at = bytes.indexOf(Buffer.from("pHYs"));
  return at < 0 ? null : [bytes.readUInt32BE(at + 4), bytes.readUInt32BE(at + 8)];
}

async function download(page, group, label) {
  const [event] = await Promise.all([page.waitForEvent("download"), group.getByRole("link", { name: label }).click()]);
  assert.equal(await event.failure(), null);
  return { name: event.suggestedFilename(), bytes: await readFile(await event.path()) };
}

for (const [page_, path, group, stem] of [
  ["mode", (m) => `/m/${m}/L0/H0/M0?sign=neg`, "Download a figure of this mode's top images", "L0H0M0_neg"],
  ["head", (m) => `/m/${m}/L0/H0`, "Download a figure of this head's first active modes", "L0H0_pos"],
]) {
  test(`the ${page_} page downloads its figure as SVG and as a 300-dpi PNG`, async () => {
    for (const [viewport, width] of [
      [undefined, "1440"],
      [PHONE, "390"],
    ]) {
      await withPage(viewport ? { viewport } : {}, async (page) => {
        await page.goto(url(path(PLANTED.slug)));
        const links = page.getByRole("group", { name: group });
        await links.waitFor();
        assert.deepEqual(await axeViolations(page), []);
        await screenshot(page, `80-figure-download-${page_}-${width}`);
        if (width !== "1440") return;
        const svg = await download(page, links, "SVG");
        const model = PLANTED.model_id.replace(/[^A-Za-z0-9._-]+/g, "-");
        const expected = `qkatlas_${model}_${stem}_faithful_${PLANTED.revision}`;
        assert.equal(svg.name, `${expected}.svg`);
        const text = svg.bytes.toString("utf8");
        assert.ok(text.includes("<svg") && !text.includes("<text"), "an SVG with its text as paths");
        const png = await download(page, links, "PNG (300 dpi)");
        assert.equal(png.name, `${expected}.png`);
        assert.deepEqual(png.bytes.subarray(1, 4).toString("latin1"), "PNG");
        // 300 dpi = 11,811 pixels per metre.
        assert.deepEqual(pngPixelsPerMetre(png.bytes), [11811, 11811]);
        await writeFile(join(SCREENSHOTS, `81-downloaded-${page_}-figure.png`), png.bytes); // to look at
      });
    }
  });
}
