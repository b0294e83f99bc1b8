// End-to-end checks of the service itself (run by tests/e2e/test_dashboard.py with the dashboard tests):
// its API documentation works with every other host out of reach, and the dashboard's text files arrive
// gzip-compressed. By hand: QKATLAS_URL=http://127.0.0.1:8000 npm run e2e -- e2e/api.test.mjs
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "@playwright/test";
import { BASE_URL, openPage, SCREENSHOTS, url } from "./browser.mjs";

const ORIGIN = new URL(BASE_URL).origin;
// The backend sends smaller bodies plain (backend/api/compression.py, MINIMUM_SIZE).
const COMPRESSION_MINIMUM = 500;
const TEXT_TYPES = {
  "application/json": "json",
  "text/javascript": "js",
  "application/javascript": "js",
  "text/css": "css",
  "image/svg+xml": "svg",
  "text/html": "html",
};

let browser;
test.beforeAll(async ({ browser: shared }) => {
  browser = shared;
});

/** Aborts every network request to another origin than the test server's; returns those attempted. */
async function blockOtherHosts(context) {
  const attempted = [];
  await context.route("**/*", (route) => {
    const requested = route.request().url();
    const network = /^(https?|wss?):/.test(requested);
    if (!network || new URL(requested).origin === ORIGIN) return route.continue();
    attempted.push(requested);
    return route.abort("blockedbyclient");
  });
  return attempted;
}

test("/api/docs renders Swagger UI's operations with every other host blocked", async () => {
  const { page, context, problems } = await openPage(browser);
  try {
    const attempted = await blockOtherHosts(context);
    await page.goto(url("/api/docs"));
    await page
      .getByRole("heading", { name: /qkatlas/ })
      .first()
      .waitFor();
    const listModels = page.locator(".opblock-get").filter({
      has: page.locator('.opblock-summary-path[data-path="/api/models"]'),
    });
    await listModels.first().waitFor();
    assert.equal((await listModels.first().locator(".opblock-summary-method").textContent())?.trim(), "GET");
    await page.screenshot({ path: join(SCREENSHOTS, "api-docs.png") });
    assert.deepEqual(attempted, [], "requests to other hosts");
    assert.deepEqual(problems, [], "server errors or page errors");
  } finally {
    await context.close();
  }
});

test("the home page's JSON, JavaScript and CSS (and any SVG) arrive gzip-compressed", async () => {
  const { page, context, problems } = await openPage(browser);
  try {
    const responses = [];
    page.on("response", (response) => responses.push(response));
    await page.goto(url("/"));
    await page.getByRole("heading", { level: 1, name: /singular modes/ }).waitFor();
    await page.waitForLoadState("networkidle");
    const kinds = new Set();
    for (const response of responses) {
      if (new URL(response.url()).origin !== ORIGIN || response.status() !== 200) continue;
      const headers = await response.allHeaders();
      const kind = TEXT_TYPES[(headers["content-type"] ?? "").split(";")[0].trim()];
      if (!kind || (await response.body()).length < COMPRESSION_MINIMUM) continue;
      assert.equal(headers["content-encoding"], "gzip", `${response.url()} (${kind})`);
      assert.match(headers["vary"] ?? "", /accept-encoding/i, response.url());
      kinds.add(kind);
    }
    for (const kind of ["json", "js", "css"]) assert.ok(kinds.has(kind), `no ${kind} answer was checked`);
    assert.deepEqual(problems, [], "server errors or page errors");
  } finally {
    await context.close();
  }
});
