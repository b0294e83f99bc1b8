/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const backend = process.env.QKATLAS_BACKEND ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api": { target: backend, changeOrigin: true } },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    // dist/.vite/manifest.json: the chunk graph scripts/bundle-size.mjs measures the first page with.
    manifest: true,
  },
  test: {
    environment: "happy-dom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
