// The service's security headers in Chromium (run by tests/e2e/test_dashboard.py with the dashboard tests):
// the built dashboard and the API docs run under their Content-Security-Policy without a single violation,
// and only an embed address (`?embed=1`) may be framed by a page of another origin. The built page also
// carries its link-preview tags without JavaScript. By hand: QKATLAS_URL=... npm run e2e -- e2e/security.test.mjs
import assert from "node:assert/strict";
import { test } from "@playwright/test";
import { join } from "node:path";
import { BASE_URL, openPage, otherOriginPage, SCREENSHOTS, screenshot, url } from "./browser.mjs";

let browser;
let planted;
test.beforeAll(async ({ browser: shared }) => {
  browser = shared;
  const models = await (await fetch(url("/api/models"))).json();
  planted = models.find((model) => model.model_id === "planted").slug;
});

/** Records every CSP violation the page reports (the event, and Chromium's console message). */
async function watchViolations(page) {
  const violations = [];
  await page.exposeFunction("reportViolation", (text) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      window.reportViolation(`${event.violatedDirective} blocked ${event.blockedURI} (${event.sourceFile})`),
    );
  });
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  return violations;
}

test("the dashboard's pages and the API docs run without a Content-Security-Policy violation", async () => {
  const { page, context, problems } = await openPage(browser);
  try {
    const violations = await watchViolations(page);
    const pages = [
      "/",
      `/m/${planted}`,
      `/m/${planted}/L0/H0`,
      `/m/${planted}/L0/H0/M0?sign=neg`,
      `/m/${planted}/modes`,
      "/classes",
      "/classes/red",
      "/search?q=red",
      "/upload",
    ];
    for (const address of pages) {
      const response = await page.goto(url(address));
      assert.match(response.headers()["content-security-policy"], /frame-ancestors 'self'/, address);
      await page.locator("h1").first().waitFor();
      await screenshot(page, `csp-${address.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "") || "home"}`);
    }
    // The charts (recharts) draw on the mode page: their SVG is there.
    await page.goto(url(`/m/${planted}/L0/H0/M0`));
    await page.locator(".recharts-surface").first().waitFor();
    await page.goto(url("/api/docs"));
    await page.locator(".opblock-get").first().waitFor();
    assert.deepEqual(violations, [], "CSP violations");
    assert.deepEqual(problems, [], "server errors or page errors");
  } finally {
    await context.close();
  }
});

test("the page's link-preview tags are in the HTML the server sends", async () => {
  const html = await (await fetch(url(`/m/${planted}/L0/H0/M0?sign=neg`))).text();
  assert.match(html, /<title>L0 H0 M0 neg · planted · qkatlas<\/title>/);
  assert.match(html, /<meta property="og:title" content="L0 H0 M0 neg · planted" \/>/);
  assert.match(
    html,
    /<meta property="og:image" content="http:\/\/[^"]+\/preview\.png\?sign=neg&amp;basis=faithful&amp;v=/,
  );
});

async function expectEventually(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A page on another origin of this machine framing qkatlas addresses. */
function framingPage(addresses) {
  const frames = addresses
    .map((address, index) => `<iframe id="f${index}" src="${url(address)}" width="800" height="600"></iframe>`)
    .join("\n");
  return otherOriginPage(`<title>elsewhere</title>${frames}`);
}

test("another origin may frame an embed address but not the full app", async () => {
  const embed = `/m/${planted}/L0/H0/M0?embed=1`;
  const full = `/m/${planted}/L0/H0/M0`;
  const { server, origin } = await framingPage([embed, full]);
  const { page, context } = await openPage(browser);
  try {
    assert.notEqual(new URL(origin).origin, new URL(BASE_URL).origin);
    // Chromium fetches the full page, then refuses to show it (frame-ancestors 'self'): an error page instead.
    const fullAnswer = page.waitForResponse((response) => response.url() === url(full));
    await page.goto(`${origin}/`);
    const answered = await fullAnswer;
    assert.equal(answered.status(), 200);
    assert.match(answered.headers()["content-security-policy"], /frame-ancestors 'self'/);
    // The embed renders inside its frame: the app's own content.
    await page
      .frameLocator("#f0")
      .getByText(/L0 H0 M0/)
      .first()
      .waitFor();
    assert.ok(page.frames().some((frame) => frame.url() === url(embed)));
    const refused = () => page.frames().filter((frame) => frame.url().startsWith("chrome-error:"));
    await expectEventually(() => refused().length === 1, "the full page's frame shows Chromium's error page");
    assert.equal(await page.frameLocator("#f1").locator("#root").count(), 0);
    await page.screenshot({ path: join(SCREENSHOTS, "framing-embed-vs-full.png") });
  } finally {
    await context.close();
    server.close();
  }
});
