// ESLint (flat config): JavaScript's and typescript-eslint's recommended rules everywhere, React's
// rules of hooks (with exhaustive effect dependencies, as errors) for the app. Prettier formats;
// nothing here is about layout.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  // Generated (npm run gen:client) or built; node_modules is never linted.
  globalIgnores(["dist/", "test-results/", "src/api/schema.d.ts"]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["src/**/*.{ts,tsx}"],
    extends: [reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
    rules: { "react-hooks/exhaustive-deps": "error" },
  },
  {
    // Node scripts and tooling; the browser tests also pass functions to run in the page.
    files: ["e2e/**/*.mjs", "scripts/**/*.mjs", "*.config.{js,mjs,ts}"],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
]);
