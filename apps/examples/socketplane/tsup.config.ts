import { defineConfig } from "tsup";
import { packageConfig } from "../../../tsup.config.base";

// dist/agent.js is self-contained (the SDK bundled in): agent/Dockerfile copies it.
export default defineConfig(
  packageConfig({
    entry: ["src/agent.ts"],
    noExternal: [/.*/],
    dts: false,
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
  }),
);
