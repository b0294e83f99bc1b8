// The browser tests (e2e/*.test.mjs) under Playwright Test, with Debian's Chromium (no browser
// download): run by tests/e2e/test_dashboard.py against the stack it starts, or by hand against a
// running backend (QKATLAS_URL, QKATLAS_PHOTO): `npm run e2e [-- -g "<title>"]`.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  testMatch: "*.test.mjs",
  // The tests of a file share what its `beforeAll` asked the API, and the machine is often small.
  workers: 1,
  fullyParallel: false,
  // A test visits several pages; each wait inside it has its own, shorter limit.
  timeout: 180_000,
  retries: 0,
  forbidOnly: true,
  reporter: [["list"]],
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
      ],
    },
  },
});
