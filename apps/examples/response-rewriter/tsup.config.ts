import { defineConfig } from "tsup";
import { packageConfig } from "../../../tsup.config.base";

// dist/main.js is self-contained (the SDK and its dependencies bundled in), so the image copies
// dist/ and runs `node main.js` with no npm install. dist/adapter.js is the adapter for other code.
export default defineConfig(
  packageConfig({
    entry: ["src/adapter.ts", "src/main.ts"],
    noExternal: [/.*/],
    dts: { entry: "src/adapter.ts" },
    // Bundled CommonJS dependencies may call require(): give them one in the ESM bundle.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
  }),
);
