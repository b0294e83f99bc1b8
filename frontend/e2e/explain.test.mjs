// Browser tests of the dashboard's explanations against the real backend (run by tests/e2e, like
// dashboard.test.mjs): the "?" help and "How to read this page" panels, the planted modes, the
// not-found pages of wrong addresses, short model names, the legends, the keys and the shortcut sheet.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "@playwright/test";
import { axeViolations, pageRunner, PHONE, screenshot, SCREENSHOTS, url } from "./browser.mjs";

let browser;
let MODELS;
// The planted-mode atlas (as in dashboard.test.mjs): its L0 H0 M0 is known.
let PLANTED;
test.beforeAll(async ({ browser: shared }) => {
  MODELS = await (await fetch(url("/api/models"))).json();
  PLANTED = MODELS.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? MODELS.find((m) => m.planted);
  assert.ok(PLANTED, "a planted-mode atlas is served");
  browser = shared;
});

const withPage = pageRunner(() => browser);

const mode = (layer, head, m, query = "sign=pos&basis=faithful") =>
  `/m/${PLANTED.slug}/L${layer}/H${head}/M${m}?${query}`;

test.describe("help", () => {
  test("a term's ? opens its definition, Escape closes it and returns the focus", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(mode(0, 0, 0)));
      await page.locator(".image-grid img").first().waitFor();
      const button = page.getByRole("button", { name: "What is σ share?" });
      await button.click();
      const popover = page.getByRole("dialog", { name: "σ share" });
      await popover.waitFor();
      assert.match(await popover.innerText(), /σ divided by the sum of the head's σ/);
      assert.equal(await button.getAttribute("aria-expanded"), "true");
      assert.deepEqual(await axeViolations(page), []);
      // The viewport only: a full-page screenshot resizes the page, which closes the popover.
      await page.screenshot({ path: join(SCREENSHOTS, "40-help-popover.png") });
      assert.equal(await popover.isVisible(), true);
      await page.keyboard.press("Escape");
      await popover.waitFor({ state: "detached" });
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "What is σ share?");

      // Enter opens it from the keyboard too; a click elsewhere closes it.
      await page.getByRole("button", { name: "What is sign?" }).focus();
      await page.keyboard.press("Enter");
      await page.getByRole("dialog", { name: "sign" }).waitFor();
      await page.getByRole("heading", { level: 1 }).click();
      await page.getByRole("dialog", { name: "sign" }).waitFor({ state: "detached" });
    });
  });

  test("every page type has its 'How to read this page' panel", async () => {
    const pages = [
      ["/", /Each attention head scores a query token/],
      [`/m/${PLANTED.slug}`, /one cell per head/],
      [`/m/${PLANTED.slug}/L0/H0`, /each mode's σ \(bars/],
      [mode(0, 0, 0), /The top images are the dataset's images/],
      [`/m/${PLANTED.slug}/modes`, /Every signed mode of the model in one table/],
      ["/search?q=red_blue", /Everything the query names/],
      ["/classes", /Every class of the served datasets/],
      ["/classes/red_blue", /One class across every served model/],
      ["/upload", /Drop an image to see which modes it drives/],
    ];
    await withPage({}, async (page) => {
      for (const [path, text] of pages) {
        await page.goto(url(path));
        const summary = page.getByText("How to read this page", { exact: true });
        await summary.click();
        const panel = page.locator("details.how-to-read");
        assert.equal(await panel.getAttribute("open"), "", path);
        assert.match(await panel.innerText(), text, path);
      }
    });
  });
});

test.describe("the planted model", () => {
  test("its page lists the planted modes; each one's page states its expected look and its top image has its colours", async () => {
    assert.ok(PLANTED.planted_modes.length > 0, "the planted atlas lists its planted modes");
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}`));
      const section = page.getByRole("region", { name: "Planted modes" });
      await section.waitFor();
      assert.equal(await section.getByRole("listitem").count(), PLANTED.planted_modes.length);
      await screenshot(page, "45-planted-modes");

      for (const p of PLANTED.planted_modes) {
        const name = `L${p.layer} H${p.head} M${p.mode} ${p.sign}`;
        const item = section.getByRole("listitem").filter({ hasText: name });
        assert.ok((await item.innerText()).includes(`Expected: ${p.expected_look}.`), name);
        await item.getByRole("link", { name }).click();
        await page.waitForURL(`**/m/${PLANTED.slug}/L${p.layer}/H${p.head}/M${p.mode}?sign=${p.sign}&basis=faithful`);
        const note = page.getByRole("note").filter({ hasText: "Planted mode" });
        assert.equal((await note.innerText()).trim(), `Planted mode: ${p.description}. Expected: ${p.expected_look}.`);
        // The best image has the query's and the key's colour (the planted images are labelled by colour).
        const best = await page.locator(".image-card .label").first().innerText();
        assert.match(best, new RegExp(p.query), name);
        assert.match(best, new RegExp(p.key), name);

        await page.goto(url(`/m/${PLANTED.slug}/L${p.layer}/H${p.head}`));
        await page
          .getByRole("note")
          .filter({ hasText: `Planted mode ${name}` })
          .first()
          .waitFor();
        await page.goto(url(`/m/${PLANTED.slug}`));
      }
    });
  });
});

test.describe("addresses that name nothing", () => {
  /** The not-found page with `exists` in it, and none of a browsing page's live controls. */
  async function expectNotFound(page, path, exists) {
    await page.goto(url(path));
    await page.getByRole("heading", { level: 1, name: "Page not found" }).waitFor();
    const text = await page.locator("section.not-found").innerText();
    assert.match(text, exists, path);
    for (const control of [".step-links", ".segmented", "input[type=range]", ".key-hints", ".image-grid"]) {
      assert.equal(await page.locator(`main ${control}`).count(), 0, `${path} shows ${control}`);
    }
    return text;
  }

  test("unknown model, layer, head, mode, top-image rank or a malformed segment: what exists, and links", async () => {
    const { n_layers: layers, n_heads: heads, n_modes: modes } = PLANTED;
    await withPage({}, async (page) => {
      await expectNotFound(page, "/m/no-such-model/L0/H0/M0", /No model “no-such-model” is served here/);
      const served = page.getByRole("list", { name: "Served models" }).getByRole("link");
      assert.equal(await served.count(), MODELS.length);

      await expectNotFound(page, mode(99, 0, 0), new RegExp(`This model has ${layers} layers, L0–L${layers - 1}\\.`));
      await screenshot(page, "41-not-found-layer");
      assert.deepEqual(await axeViolations(page), []);
      // The nearest page that exists, with the view kept.
      await page.getByRole("link", { name: /^The nearest that exists/ }).click();
      await page.waitForURL(`**/m/${PLANTED.slug}/L${layers - 1}/H0/M0?sign=pos&basis=faithful`);
      await page.getByRole("heading", { level: 1, name: new RegExp(`Mode L${layers - 1} H0 M0`) }).waitFor();

      await expectNotFound(
        page,
        `/m/${PLANTED.slug}/L0/H42`,
        new RegExp(`This model has ${heads} heads per layer, H0–H${heads - 1}\\.`),
      );
      await expectNotFound(
        page,
        mode(0, 0, 9999),
        new RegExp(`This model has ${modes} modes per head, M0–M${modes - 1}\\.`),
      );
      await expectNotFound(page, `/m/${PLANTED.slug}/Lfoo/H0`, /Layers, heads and modes are written L0–L/);
      // A top image's rank beyond the mode's top-K (the large view's `image=`), and one that is no number.
      const { top_images: top } = await (
        await fetch(url(`/api/models/${PLANTED.slug}/layers/0/heads/0/modes/0?sign=pos&basis=faithful`))
      ).json();
      await expectNotFound(
        page,
        `${mode(0, 0, 0)}&image=${top.length}`,
        new RegExp(`This signed mode has ${top.length} top images in the faithful basis: image=0–${top.length - 1}`),
      );
      assert.equal(await page.getByRole("dialog").count(), 0);
      await expectNotFound(page, `${mode(0, 0, 0)}&image=first`, /has no top image image=first/);
    });
  });

  test("a short name shared by several atlases lists them", async () => {
    const counts = new Map();
    for (const m of MODELS) counts.set(m.model_slug, [...(counts.get(m.model_slug) ?? []), m.slug]);
    const shared = [...counts.entries()].find(([, slugs]) => slugs.length > 1);
    test.skip(!shared, "no two served atlases share a model");
    const [name, slugs] = shared;
    await withPage({}, async (page) => {
      await expectNotFound(page, `/m/${name}/L0/H0`, new RegExp(`“${name}” names ${slugs.length} served atlases`));
      const links = page.getByRole("list", { name: "Atlases with this name" }).getByRole("link");
      const hrefs = await links.evaluateAll((as) => as.map((a) => a.getAttribute("href")));
      assert.deepEqual(hrefs.sort(), slugs.map((s) => `/m/${s}/L0/H0`).sort());
    });
  });

  test("a short name that names one atlas is replaced by the canonical address, query kept", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${PLANTED.model_slug}/L0/H0/M0?sign=neg`));
      await page.waitForURL(`**/m/${PLANTED.slug}/L0/H0/M0?sign=neg`);
      await page.getByRole("heading", { level: 1, name: /Mode L0 H0 M0/ }).waitFor();
      assert.equal(await page.getByRole("button", { name: "neg (−u, −v)" }).getAttribute("aria-pressed"), "true");
    });
  });
});

test.describe("legends", () => {
  test("the head grid's colour scale: fixed at ±1 by default, stretched on request, kept in the URL", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}`));
      const legend = page.getByRole("group", { name: "Colour legend" });
      await legend.waitFor();
      const fixed = await legend.innerText();
      assert.match(fixed, /−1\.00/);
      assert.match(fixed, /\+1\.00/);
      assert.match(fixed, /fixed scale, the same for every model/);

      await page.getByRole("button", { name: "stretch to this model's range" }).click();
      await page.waitForURL(/\?scale=stretch$/);
      // The URL changes before React renders the new scale: wait for the legend to follow.
      await legend.getByText(/stretched to this model's largest \|value\|/).waitFor();
      const stretched = await legend.innerText();
      assert.match(stretched, /stretched to this model's largest \|value\|/);
      const largest = Math.max(
        ...(await (await fetch(url(`/api/models/${PLANTED.slug}`))).json()).head_weighted_cos
          .flat()
          .filter((v) => v !== null)
          .map(Math.abs),
      );
      assert.ok(largest < 0.99, "the planted model's heads do not reach ±1");
      // The legend's ends are ±(largest |value|), written to 2 decimals.
      const top = Number((await legend.locator(".cos-legend-max").innerText()).replace("+", ""));
      assert.ok(Math.abs(top - largest) <= 0.005, `${top} vs ${largest}`);
      assert.notEqual(stretched, fixed);
      await screenshot(page, "42-head-grid-stretched");

      await page.reload();
      await legend.waitFor();
      assert.match(await legend.innerText(), /stretched/);
      assert.equal(
        await page.getByRole("button", { name: "stretch to this model's range" }).getAttribute("aria-pressed"),
        "true",
      );
    });
  });

  test("the home chart's legend names each model's random band in its line's colour", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      const figure = page.getByRole("figure").filter({ hasText: "cosine vs normalized depth, all models" });
      const bands = figure.locator(".depth-legend-band");
      await bands.first().waitFor();
      // One band per model width (1.96/√d), each named; a band one model alone has is in its line's colour.
      const widths = new Set(MODELS.map((m) => m.d_model));
      assert.equal(await bands.count(), widths.size);
      for (const text of await bands.allInnerTexts()) assert.match(text, /random directions, 95 % \(±1\.96\/√d\)/);
      const lineColours = await figure
        .locator(".chart-legend .recharts-legend-item:not(.depth-legend-band) line")
        .evaluateAll((lines) => lines.map((l) => l.getAttribute("stroke")));
      const bandColours = await bands.locator("path").evaluateAll((paths) => paths.map((p) => p.getAttribute("fill")));
      for (const colour of bandColours.filter((c) => c !== "currentColor"))
        assert.ok(lineColours.includes(colour), colour);
      await screenshot(page, "43-home-band-legend");
    });
  });
});

test.describe("keys", () => {
  test("after a click on a toggle, → still moves to the next mode", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(mode(0, 0, 0)));
      await page.getByRole("button", { name: "neg (−u, −v)" }).click();
      await page.waitForURL(/M0\?sign=neg/);
      await page.keyboard.press("ArrowRight");
      await page.waitForURL(/\/L0\/H0\/M1\?sign=neg/);
      await page.getByRole("heading", { level: 1, name: /Mode L0 H0 M1/ }).waitFor();
    });
  });

  test("a toggle click and → pressed twice at once keep all three moves", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(mode(0, 0, 0)));
      await page.getByRole("heading", { level: 1, name: /Mode L0 H0 M0/ }).waitFor();
      // No wait between them: each move must start from the last one, rendered or not.
      await page.getByRole("button", { name: "neg (−u, −v)" }).click();
      await page.keyboard.press("ArrowRight");
      await page.keyboard.press("ArrowRight");
      await page.waitForURL(/\/L0\/H0\/M2\?sign=neg/);
      await page.getByRole("heading", { level: 1, name: /Mode L0 H0 M2/ }).waitFor();
    });
  });

  test("? opens the shortcut sheet of the page; Escape closes it and returns the focus", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(mode(0, 0, 0)));
      await page.getByRole("heading", { level: 1, name: /Mode L0 H0 M0/ }).waitFor();
      const toggle = page.getByRole("button", { name: "pos (u, v)" });
      await toggle.focus();
      await page.keyboard.press("?");
      const sheet = page.getByRole("dialog", { name: "Keys on this page" });
      await sheet.waitFor();
      const text = await sheet.innerText();
      for (const action of ["next mode", "previous head", "focus the search box", "show this list of keys"]) {
        assert.ok(text.includes(action), action);
      }
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Close");
      await screenshot(page, "44-shortcut-sheet");
      assert.deepEqual(await axeViolations(page), []);
      await page.keyboard.press("Escape");
      await sheet.waitFor({ state: "hidden" });
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "pos (u, v)");

      // Typed into the search box, ? is a character, not a shortcut.
      await page.getByRole("combobox").fill("");
      await page.getByRole("combobox").press("?");
      assert.equal(await sheet.isVisible(), false);
    });
  });

  test("the key hints are shown on a desktop and hidden on a touch screen", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(mode(0, 0, 0)));
      await page.locator(".key-hints").waitFor();
      assert.match(await page.locator(".key-hints").innerText(), /\? all keys/);
    });
    await withPage({ viewport: PHONE, hasTouch: true, isMobile: true }, async (page) => {
      await page.goto(url(mode(0, 0, 0)));
      await page.getByRole("heading", { level: 1, name: /Mode L0 H0 M0/ }).waitFor();
      assert.equal(await page.locator(".key-hints").isVisible(), false);
    });
  });
});
