import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Served by srs-console under /console/; hashed files go to assets/ (cached for a year).
export default defineConfig({
  base: "/console/",
  plugins: [svelte()],
  build: { outDir: "dist", assetsDir: "assets", emptyOutDir: true, sourcemap: false },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
