// Browser tests of what the dashboard's controls, legends and axes say against the real backend (run
// by tests/e2e, like dashboard.test.mjs): the depth chart's quantity kept in the address, the overlay
// legend and the large view following the map channel, the sliders' values in figures, the head
// page's cosine legend and axis, and the score histogram's axis fitted to its data. Screenshots of the
// pages at 1440 and 390 px, light and dark.
import assert from "node:assert/strict";
import { expect, test } from "@playwright/test";
import { DESKTOP, pageRunner, PHONE, screenshot, url } from "./browser.mjs";

let browser;
// The planted-mode atlas (as in dashboard.test.mjs): its L0 H0 M0 is known.
let PLANTED;
test.beforeAll(async ({ browser: shared }) => {
  const models = await (await fetch(url("/api/models"))).json();
  PLANTED = models.find((m) => m.slug === process.env.QKATLAS_MODEL) ?? models.find((m) => m.planted);
  assert.ok(PLANTED, "a planted-mode atlas is served");
  browser = shared;
});

const withPage = pageRunner(() => browser);

const mode = (layer, head, m, query = "sign=pos&basis=faithful") =>
  `/m/${PLANTED.slug}/L${layer}/H${head}/M${m}?${query}`;

const VIEWS = [
  ["desktop-light", { viewport: DESKTOP }],
  ["desktop-dark", { viewport: DESKTOP, colorScheme: "dark" }],
  ["phone-light", { viewport: PHONE }],
  ["phone-dark", { viewport: PHONE, colorScheme: "dark" }],
];

/** The `aria-pressed` state of the toggle button named `name`. */
async function pressed(page, name) {
  return page.getByRole("button", { name, exact: true }).getAttribute("aria-pressed");
}

test.describe("readouts", () => {
  test("the home chart keeps its quantity in the address, through reload and Back", async () => {
    await withPage({}, async (page) => {
      await page.goto(url("/"));
      const caption = (text) => page.getByRole("figure").filter({ hasText: text }).locator(".recharts-wrapper > svg");
      await caption("σ-weighted cosine vs normalized depth, all models").waitFor();
      await page.getByRole("button", { name: "unweighted mean cosine", exact: true }).click();
      await page.waitForURL(/\/\?quantity=unweighted$/);
      await caption("unweighted mean cosine vs normalized depth, all models").waitFor();

      await page.reload();
      await caption("unweighted mean cosine vs normalized depth, all models").waitFor();
      assert.equal(await pressed(page, "unweighted mean cosine"), "true");

      // To a model and Back: the home page shows the quantity it had.
      await page.getByRole("link", { name: PLANTED.model_id, exact: true }).click();
      await page.waitForURL(`**/m/${PLANTED.slug}`);
      await page.goBack();
      await page.waitForURL(/\/\?quantity=unweighted$/);
      await caption("unweighted mean cosine vs normalized depth, all models").waitFor();
      assert.equal(await pressed(page, "unweighted mean cosine"), "true");

      // The default quantity leaves the address short.
      await page.getByRole("button", { name: "σ-weighted cosine", exact: true }).click();
      await page.waitForURL((address) => address.search === "");
    });
  });

  test("the overlay legend and the large view name only the maps shown; the sliders show their values", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(mode(0, 0, 0, "sign=pos&basis=faithful&channel=query&opacity=0.6")));
      await page.locator(".image-grid img").first().waitFor();
      const legend = page.locator(".legend-line:not(.peak-key)");
      assert.equal(await pressed(page, "query"), "true");
      assert.match(await legend.innerText(), /red: query map \(tokens like u\) · the key map is hidden/);
      assert.doesNotMatch(await legend.innerText(), /cyan|white/);
      const outputs = page.locator("label.range output");
      assert.deepEqual(await outputs.allInnerTexts(), ["60 %", "100 %"]);

      await page.locator(".image-card a").first().click();
      const view = page.getByRole("dialog", { name: /top image #1/ });
      await view.waitFor();
      assert.equal(
        await view.locator("figcaption").nth(1).innerText(),
        "The query map (red) over it, with the two patches that make the score outlined",
      );
      assert.match(await view.getByRole("img", { name: /^query map \(red\) of / }).getAttribute("alt"), /top image 1/);
      await page.keyboard.press("Escape");
      await view.waitFor({ state: "detached" });

      await page.getByRole("button", { name: "key", exact: true }).click();
      await page.waitForURL(/channel=key/);
      // The page renders a move after the address changes: these checks retry until it has.
      await expect(legend).toHaveText(/cyan: key map \(tokens like v\) · the query map is hidden/);
      await expect(legend).not.toHaveText(/red|white/);
      await page.getByRole("button", { name: "both", exact: true }).click();
      await page.waitForURL((address) => !address.search.includes("channel="));
      await expect(legend).toHaveText(/red: query map .* ·\s+cyan: key map .* · white: both/);

      // A slider's figure follows it as it moves.
      const brightness = page.getByRole("slider", { name: "Photo brightness" });
      await brightness.focus();
      await page.keyboard.press("ArrowLeft");
      await expect(outputs).toHaveText(["60 %", "90 %"]);
      await page.waitForURL(/blend=0\.9/);
    });
  });

  test("the head page's chart names its σ bars and cosine line and labels the cosine axis", async () => {
    await withPage({}, async (page) => {
      await page.goto(url(`/m/${PLANTED.slug}/L0/H0`));
      const figure = page.getByRole("figure").filter({ hasText: "σ and cosine of the" });
      await figure.locator(".recharts-wrapper > svg").waitFor();
      const legend = await figure.locator(".chart-legend .recharts-legend-item-text").allInnerTexts();
      assert.ok(legend.includes("σ (bars, left axis)"), legend.join(" | "));
      assert.ok(legend.includes("cos u·v (line, right axis)"), legend.join(" | "));
      // SVG text has no innerText: its textContent.
      const axisLabels = await figure
        .locator(".recharts-label")
        .evaluateAll((labels) => labels.map((l) => l.textContent));
      assert.ok(axisLabels.includes("cos u·v"), axisLabels.join(" | "));
      assert.ok(axisLabels.includes("σ"), axisLabels.join(" | "));
    });
  });

  test("the score histogram's axis spans the bins its images fill, not the calibration's empty ones", async () => {
    // Checked against the API's counts: the axis ticks lie from the first filled bin to the last.
    await withPage({}, async (page) => {
      const path = `/api/models/${PLANTED.slug}/layers/0/heads/0/modes/0?sign=pos&basis=faithful`;
      const { distribution: d } = await (await page.request.get(url(path))).json();
      assert.ok(d, "the planted atlas has statistics");
      const bins = d.counts.slice(1, -1);
      const filled = bins.flatMap((c, i) => (c > 0 ? [i] : []));
      const width = d.edges[1] - d.edges[0];
      const low = d.counts[0] > 0 ? d.edges[0] : d.edges[filled[0]];
      const high = d.counts.at(-1) > 0 ? d.edges.at(-1) : d.edges[filled.at(-1) + 1];
      await page.goto(url(mode(0, 0, 0)));
      const figure = page.getByRole("figure").filter({ hasText: "Score of L0 H0 M0" });
      await figure.locator(".recharts-wrapper > svg").waitFor();
      const tickValues = figure.locator(".recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value");
      await tickValues.first().waitFor();
      const ticks = await tickValues.evaluateAll((values) => values.map((v) => Number(v.textContent)));
      assert.ok(ticks.length >= 2, `ticks ${ticks}`);
      assert.ok(Math.min(...ticks) >= low - 0.01 * width, `ticks ${ticks} start before ${low}`);
      assert.ok(Math.max(...ticks) <= high + 0.01 * width, `ticks ${ticks} end after ${high}`);
      // The test means something only if the calibrated bins reach beyond the data here.
      const emptyBins = bins.length - (filled.at(-1) - filled[0] + 1);
      assert.ok(emptyBins > 0, "the planted mode leaves some calibrated bins empty");
    });
  });

  test("screenshots of the pages whose readouts changed, at 1440 and 390 px, light and dark", async () => {
    for (const [name, options] of VIEWS) {
      await withPage(options, async (page) => {
        await page.goto(url("/?quantity=unweighted"));
        await page.locator(".chart .recharts-wrapper > svg").first().waitFor();
        await screenshot(page, `70-${name}-home-bands`);
        await page.goto(url(`/m/${PLANTED.slug}/L0/H0`));
        await page.locator(".chart .recharts-wrapper > svg").first().waitFor();
        await screenshot(page, `71-${name}-head-legend`);
        await page.goto(url(mode(0, 0, 0, "sign=pos&basis=faithful&channel=key&blend=0.7")));
        await page.locator(".chart .recharts-wrapper > svg").first().waitFor();
        await page.locator(".image-grid img").first().waitFor();
        await screenshot(page, `72-${name}-mode-readouts`);
      });
    }
  });
});
