// Gzipped JavaScript the first page (Home, with its chart) loads, from the production build's
// chunk graph (dist/.vite/manifest.json): the entry, the Home route and the chart it opens, with
// everything they import statically. Fails above the budget (300 KB).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 300;
const FIRST_PAGE = ["index.html", "src/routes/HomePage.tsx", "src/components/charts/DepthChart.tsx"];

const dist = resolve(dirname(fileURLToPath(import.meta.url)), "../dist");
const manifest = JSON.parse(readFileSync(join(dist, ".vite/manifest.json"), "utf8"));

const files = new Set();
const visit = (key) => {
  const chunk = manifest[key];
  if (!chunk) throw new Error(`${key} is not in the build manifest`);
  if (files.has(chunk.file)) return;
  files.add(chunk.file);
  for (const dep of chunk.imports ?? []) visit(dep);
};
FIRST_PAGE.forEach(visit);

const allJs = Object.values(manifest).filter((c) => c.file.endsWith(".js"));
const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const rows = [...files].filter((f) => f.endsWith(".js")).map((file) => ({ file, gzip: gz(file) }));
rows.sort((a, b) => b.gzip - a.gzip);
const kb = (bytes) => (bytes / 1024).toFixed(1);
for (const { file, gzip } of rows) console.log(`${kb(gzip).padStart(8)} KB  ${file}`);
const total = rows.reduce((s, r) => s + r.gzip, 0);
const whole = [...new Set(allJs.map((c) => c.file))].reduce((s, f) => s + gz(f), 0);
console.log(`first page: ${kb(total)} KB of gzipped JavaScript (budget ${BUDGET_KB} KB); whole app: ${kb(whole)} KB`);
if (total > BUDGET_KB * 1024) process.exit(1);
