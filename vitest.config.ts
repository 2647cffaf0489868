import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Exact patterns: an object alias "stepbox" would also rewrite "stepbox/testing" as a prefix.
    alias: [
      { find: /^stepbox$/, replacement: source("./src/index.ts") },
      { find: /^stepbox\/testing$/, replacement: source("./src/testing/index.ts") },
      { find: /^stepbox\/report$/, replacement: source("./src/report/index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests share one Docker engine on a 2-core machine: one file at a time keeps
    // timings honest (the diamond test checks that two steps overlap).
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
