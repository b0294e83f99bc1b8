// Shared mode lists against the real backend (tests/e2e/test_dashboard.py): modes from two models added to
// the draft list, shared as one link, and that link showing them side by side (HTTP 200 from the server;
// 404 for a list that does not exist).
import assert from "node:assert/strict";
import { test } from "@playwright/test";
import { axeViolations, DESKTOP, pageRunner, PHONE, screenshot, url } from "./browser.mjs";

let browser;
let PLANTED;
let OTHER;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  PLANTED = models.find((m) => m.planted);
  OTHER = models.find((m) => !m.planted && m.model_id !== PLANTED?.model_id);
  assert.ok(PLANTED && OTHER, "a planted atlas and an atlas of another model are served");
  browser = shared;
});

const withPage = pageRunner(() => browser);

async function addToList(page, path, note) {
  const response = await page.goto(url(path));
  assert.equal(response.status(), 200);
  const form = page.getByRole("form", { name: "Add this mode to your list" });
  if (note) await form.getByRole("textbox").fill(note);
  await form.getByRole("button", { name: "Add to list" }).click();
  await form.getByText("In your list.").waitFor();
  return form;
}

test.describe("shared lists", () => {
  test("modes from two models go into a list, shared as one link that shows them side by side", async () => {
    let listPath;
    await withPage({ viewport: DESKTOP }, async (page) => {
      await addToList(page, `/m/${PLANTED.slug}/L1/H0/M0?sign=pos&basis=faithful`, "red → cyan");
      await screenshot(page, "lists-add-1440-light");
      const form = await addToList(page, `/m/${OTHER.slug}/L0/H0/M1?sign=neg&basis=${OTHER.bases[0]}`, "");
      await form.getByRole("link", { name: "Open your list" }).click();
      await page.waitForURL("**/lists");
      await page.getByRole("textbox", { name: "Title" }).fill("Two models, one look");
      assert.deepEqual(await axeViolations(page), [], "axe on the draft list");
      await screenshot(page, "lists-draft-1440-light");
      const posted = page.waitForResponse((r) => r.url().endsWith("/api/lists") && r.request().method() === "POST");
      await page.getByRole("button", { name: "Share list" }).click();
      assert.equal((await posted).status(), 201);
      const link = page.getByRole("status").getByRole("link", { name: /\/lists\/[a-z2-7]{26}$/ });
      listPath = await link.getAttribute("href");
      assert.match(listPath, /^\/lists\/[a-z2-7]{26}$/);
      await link.click();
      await page.getByRole("heading", { level: 1, name: "Two models, one look" }).waitFor();
      const columns = page.getByRole("list", { name: "Modes of the list" }).locator(":scope > li");
      assert.equal(await columns.count(), 2);
      assert.deepEqual(await columns.evaluateAll((items) => items.map((i) => i.getAttribute("aria-label"))), [
        `L1 H0 M0 pos · ${PLANTED.model_id}`,
        `L0 H0 M1 neg · ${OTHER.model_id}`,
      ]);
      await columns.nth(0).getByText("red → cyan").waitFor();
      for (const n of [0, 1]) await columns.nth(n).getByText("σ").waitFor();
      await columns
        .nth(0)
        .getByRole("img", { name: /top image 1/ })
        .waitFor();
      // Side by side at 1440 px: the two columns share a row.
      const [a, b] = [await columns.nth(0).boundingBox(), await columns.nth(1).boundingBox()];
      assert.ok(Math.abs(a.y - b.y) < 1 && b.x > a.x + a.width - 1, "the modes sit side by side");
      assert.deepEqual(await axeViolations(page), [], "axe on the shared list");
      await screenshot(page, "lists-shared-1440-light");
    });
    await withPage({ viewport: PHONE, colorScheme: "dark" }, async (page) => {
      const response = await page.goto(url(listPath));
      assert.equal(response.status(), 200);
      await page.getByRole("heading", { level: 1, name: "Two models, one look" }).waitFor();
      await screenshot(page, "lists-shared-390-dark");
    });
  });

  test("a list that does not exist is a 404 that says so", async () => {
    await withPage({ viewport: DESKTOP }, async (page) => {
      const response = await page.goto(url(`/lists/${"a".repeat(26)}`));
      assert.equal(response.status(), 404);
      await page.getByRole("heading", { level: 1, name: "List not found" }).waitFor();
    });
  });
});
