// Shared browser plumbing for the end-to-end tests (Playwright Test drives Debian's Chromium, as
// playwright.config.mjs says): pages with their checks, axe-core injected from node_modules, screenshots
// to a fixed folder.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const BASE_URL = process.env.QKATLAS_URL ?? "http://127.0.0.1:8000";
export const SCREENSHOTS = resolve(process.env.QKATLAS_SCREENSHOTS ?? join(here, "../../artifacts/screenshots"));
mkdirSync(SCREENSHOTS, { recursive: true });
export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };

/**
 * A page with a fresh context; it records console errors and failed API requests (any 5xx is a
 * failure of the product), which the caller asserts on. `hasTouch` and `isMobile` emulate a phone's
 * touch screen (no hover, a coarse pointer).
 */
export async function openPage(
  browser,
  { viewport = DESKTOP, colorScheme = "light", hasTouch = false, isMobile = false } = {},
) {
  const context = await browser.newContext({
    viewport,
    colorScheme,
    hasTouch,
    isMobile,
    permissions: ["clipboard-read", "clipboard-write"],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 500) problems.push(`HTTP ${response.status()} ${response.url()}`);
  });
  return { page, context, problems };
}

/**
 * `withPage(options?, body)` for the browser that `getBrowser()` returns: runs `body(page)` in a fresh
 * page, then checks that nothing failed on the way (no 5xx, no page errors), and closes the context.
 */
export function pageRunner(getBrowser) {
  return async function withPage(options, body) {
    const [openOptions, run] = typeof options === "function" ? [{}, options] : [options, body];
    const { page, context, problems } = await openPage(getBrowser(), openOptions);
    try {
      await run(page);
      assert.deepEqual(problems, [], "server errors or page errors");
    } finally {
      await context.close();
    }
  };
}

export function url(path) {
  return new URL(path, BASE_URL).toString();
}

/** Saves a full-page screenshot once nothing is loading any more. */
export async function screenshot(page, name) {
  await page.waitForFunction(() => !document.querySelector(".status-loading"), null, { timeout: 60_000 });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * Waits until the page has no loading indicator and every <img> (lazy ones made eager, including
 * those that appear while waiting) has finished; returns the sources of any that broke.
 */
export async function brokenImages(page) {
  await page.waitForFunction(
    () => {
      document.querySelectorAll("img[loading=lazy]").forEach((img) => (img.loading = "eager"));
      const loading = document.querySelector(".status-loading, [role=status].loading-images");
      return !loading && [...document.images].every((img) => img.complete);
    },
    null,
    { timeout: 60_000, polling: 250 },
  );
  return page.evaluate(() =>
    [...document.images].filter((img) => img.naturalWidth === 0).map((img) => img.getAttribute("src")),
  );
}

const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** Runs axe-core on the page; returns the serious and critical violations, summarized. */
export async function axeViolations(page) {
  // Evaluated over the DevTools protocol, which the page's Content-Security-Policy does not govern (an inline
  // <script> tag would be refused: script-src 'self').
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.nodes
          .map((n) => n.target.join(" "))
          .slice(0, 3)
          .join(", ")})`,
    );
}

/**
 * On a class page whose dataset has no class large enough to rank (the test atlases' small classes), each
 * model's modes are folded away as "not a finding": unfold them, as a reader who wants them would.
 */
export async function unfoldUnrankedModes(page) {
  await page.locator("section.class-column").first().waitFor();
  await page.evaluate(() => {
    for (const details of document.querySelectorAll("details.class-modes-unranked")) details.open = true;
  });
}

/**
 * A page with `html` served on another origin of this machine (its own port), as a blog post embedding
 * qkatlas would be: `{ server, origin }`; close the server when done. (An `about:blank` host has an opaque
 * origin, which `frame-ancestors *` does not admit.)
 */
export async function otherOriginPage(html) {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end(`<!doctype html>${html}`);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}
