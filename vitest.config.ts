import { defineConfig } from "vitest/config";

// Tests run against sources: every workspace package exports a "source" condition.
const conditions = ["source", "node", "import", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["source"] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "apps/**/src/**/*.test.ts", "tools/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "engine",
          include: ["packages/*/test/**/*.test.ts", "apps/**/test/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**"],
          globalSetup: ["tools/test/engine-global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores and one engine: engine suites run one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
