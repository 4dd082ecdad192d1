import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.config.base";

// dist/main.js is self-contained (the loader runtime, docker-compose's wrapper and yaml bundled
// in): the image copies it and runs `node main.mjs` with no npm install.
export default defineConfig(
  packageConfig({
    entry: ["src/main.ts"],
    noExternal: [/.*/],
    dts: false,
    shims: true,
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
  }),
);
