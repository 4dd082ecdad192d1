import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.config.base";

// Two entry points share one chunk, so `./testing` drives the very code `.` serves with.
export default defineConfig(packageConfig({ entry: ["src/index.ts", "src/testing.ts"], splitting: true }));
