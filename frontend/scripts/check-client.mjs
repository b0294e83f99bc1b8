// Drift test: regenerates the TypeScript client from ../backend/openapi.json into a temporary file
// and fails when it differs from the committed src/api/schema.d.ts (run `npm run gen:client`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const schema = resolve(root, "../backend/openapi.json");
const committed = resolve(root, "src/api/schema.d.ts");
const dir = mkdtempSync(join(tmpdir(), "qkatlas-client-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync(join(root, "node_modules/.bin/openapi-typescript"), [schema, "-o", fresh], { stdio: "pipe" });
  if (readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
    console.error("src/api/schema.d.ts is out of date with backend/openapi.json: run `npm run gen:client`.");
    process.exit(1);
  }
  console.log("TypeScript client matches backend/openapi.json.");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
