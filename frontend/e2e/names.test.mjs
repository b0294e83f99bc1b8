// Classes you can browse and trust, names the address bar accepts, and not-found answers (with HTTP 404
// from the server, so link checkers see them), against the real backend (tests/e2e/test_dashboard.py).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "@playwright/test";
import { axeViolations, DESKTOP, pageRunner, PHONE, screenshot, url } from "./browser.mjs";

let browser;
let MODEL;
let SHORT_NAME;
let CLASSES;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  const model = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  assert.ok(model, "a planted-mode atlas is served");
  MODEL = model;
  SHORT_NAME = model.model_id.split("/").pop();
  CLASSES = await (await fetch(url("/api/classes"))).json();
  browser = shared;
});

const withPage = pageRunner(() => browser);
const LOOKS = [
  { viewport: DESKTOP, colorScheme: "light", name: "1440-light" },
  { viewport: DESKTOP, colorScheme: "dark", name: "1440-dark" },
  { viewport: PHONE, colorScheme: "light", name: "390-light" },
  { viewport: PHONE, colorScheme: "dark", name: "390-dark" },
];

test.describe("names and not-found pages", () => {
  test("the classes page lists every class with its images, filters, and opens a class page that says what its ranking rests on", async () => {
    const planted = CLASSES.datasets.findIndex((d) => d.atlases.includes(MODEL.slug));
    assert.ok(planted >= 0, "the planted atlas's dataset has labels");
    const first = CLASSES.classes.find((c) => c.n_images[planted] !== null);
    for (const look of LOOKS) {
      await withPage(look, async (page) => {
        const response = await page.goto(url("/"));
        assert.equal(response.status(), 200);
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Classes" }).click();
        await page.waitForURL("**/classes");
        await page.getByRole("heading", { level: 1, name: "Classes" }).waitFor();
        const table = page.getByRole("table", { name: "Classes and their images" });
        const row = table.getByRole("row").filter({ has: page.getByRole("link", { name: first.label, exact: true }) });
        await row.waitFor();
        assert.match(await row.innerText(), new RegExp(String(first.n_images[planted])));
        assert.equal(await table.locator("tbody tr").count(), CLASSES.classes.length);
        assert.deepEqual(await axeViolations(page), [], "axe on the classes page");
        await screenshot(page, `names-classes-${look.name}`);

        await page.getByRole("searchbox", { name: "Class contains" }).fill(first.label.slice(0, 4));
        await page.waitForURL(/\?q=/);
        await row.getByRole("link", { name: first.label, exact: true }).click();
        await page.getByRole("heading", { level: 1, name: new RegExp(first.label) }).waitFor();
        const column = page.getByRole("region", { name: MODEL.model_id, exact: true });
        await column.getByText(`${first.n_images[planted]} image`).first().waitFor();
        if (CLASSES.datasets[planted].largest_class_images < CLASSES.reliable_class_images) {
          // Every class is too small: said, and the modes are not presented as a ranking.
          await page
            .getByRole("note")
            .filter({ hasText: /selectivity cannot be ranked reliably/ })
            .waitFor();
          await column.getByText("The modes with the highest selectivity anyway (not a finding)").click();
        }
        await column.getByText("images of the class").first().waitFor();
        assert.deepEqual(await axeViolations(page), [], "axe on the class page");
        await screenshot(page, `names-class-${look.name}`);
      });
    }
  });

  test("an unknown class is a 404 that suggests the near classes", async () => {
    const label = CLASSES.classes[0].label;
    const typo = label.slice(0, -1);
    for (const look of [LOOKS[0], LOOKS[3]]) {
      await withPage(look, async (page) => {
        const response = await page.goto(url(`/classes/${encodeURIComponent(typo)}`));
        assert.equal(response.status(), 404);
        await page.getByRole("heading", { level: 1, name: "Class not found" }).waitFor();
        const near = page.getByRole("list", { name: "Near classes" });
        await near.getByRole("link", { name: label, exact: true }).click();
        await page.waitForURL(`**/classes/${encodeURIComponent(label)}`);
        await page.getByRole("heading", { level: 1, name: new RegExp(label) }).waitFor();
        await page.goBack();
        await page.getByRole("heading", { level: 1, name: "Class not found" }).waitFor();
        await screenshot(page, `names-class-not-found-${look.name}`);
      });
    }
  });

  test("a short-name address (the name search shows) opens the mode page at its canonical address", async () => {
    await withPage({}, async (page) => {
      const response = await page.goto(url(`/m/${SHORT_NAME}/L0/H0/M0?sign=neg`));
      assert.equal(response.status(), 200);
      await page.waitForURL(`**/m/${MODEL.slug}/L0/H0/M0?sign=neg`);
      await page.getByRole("heading", { level: 1, name: /Mode L0 H0 M0/ }).waitFor();
      const missing = await page.goto(url(`/m/${SHORT_NAME}/L99/H0/M0`));
      assert.equal(missing.status(), 404);
      await page.getByText("There is no layer 99.").waitFor();
      assert.equal((await page.goto(url("/m/no-such-model/L0/H0"))).status(), 404);
      await page.getByText("No model “no-such-model” is served here.").waitFor();
    });
  });

  test("an upload address with an unknown model or head says so instead of showing another head, with a 404", async () => {
    const form = new FormData();
    form.append("file", new Blob([await readFile(process.env.QKATLAS_PHOTO)]), "photo.jpg");
    const created = await fetch(url("/api/uploads"), { method: "POST", body: form });
    assert.equal(created.status, 201);
    const { id } = await created.json();
    for (const look of [LOOKS[0], LOOKS[3]]) {
      await withPage(look, async (page) => {
        const response = await page.goto(url(`/upload/${id}?model=resnet`));
        assert.equal(response.status(), 404);
        await page.getByRole("heading", { level: 1, name: "No such view of your upload" }).waitFor();
        await page.getByText("No model “resnet” is served here.").waitFor();
        await screenshot(page, `names-upload-unknown-model-${look.name}`);
        const head = MODEL.n_heads;
        assert.equal((await page.goto(url(`/upload/${id}?model=${MODEL.slug}&layer=0&head=${head}`))).status(), 404);
        await page.getByText(`There is no head ${head}. (${MODEL.model_id})`).waitFor();
        assert.equal(await page.getByRole("heading", { name: /in planted|Your image in/ }).count(), 0);
        await page.getByRole("link", { name: "Your upload in the first served model" }).click();
        await page.waitForURL(`**/upload/${id}`);
        await page.getByRole("heading", { level: 2, name: /Your image in/ }).waitFor();
      });
    }
  });

  test("the mode index with layer=99 says there is no such layer, with a 404", async () => {
    for (const look of [LOOKS[0], LOOKS[3]]) {
      await withPage(look, async (page) => {
        const response = await page.goto(url(`/m/${MODEL.slug}/modes?layer=99`));
        assert.equal(response.status(), 404);
        await page.getByRole("heading", { level: 1, name: "No such filter" }).waitFor();
        await page.getByText(/^There is no layer 99\./).waitFor();
        await page.getByText(`This model has ${MODEL.n_layers} layers, L0–L${MODEL.n_layers - 1}.`).waitFor();
        assert.equal(await page.getByRole("table").count(), 0);
        await screenshot(page, `names-index-layer-99-${look.name}`);
        await page.getByRole("link", { name: "The mode index without this filter" }).click();
        await page.waitForURL(`**/m/${MODEL.slug}/modes`);
        await page.getByRole("table", { name: `Signed modes of ${MODEL.model_id}` }).waitFor();
      });
    }
  });
});
