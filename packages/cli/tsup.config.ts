import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.config.base";

// The library (index) and the two programs its bins run: `powerstrip` and the docker CLI plugin.
export default defineConfig(
  packageConfig({ entry: ["src/index.ts", "src/main.ts", "src/docker-plugin-main.ts"] }),
);
