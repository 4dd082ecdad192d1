import { defineConfig } from "tsup";

/**
 * The daemon as one ESM file for the `powerstrip/proxy` image (dist/image/powerstrip-proxy.mjs):
 * everything bundled in, so the image needs `node` and nothing else (no npm, no node_modules).
 * Built from the workspace packages' sources (the `source` export condition), so the bundle never
 * depends on how fresh their dist/ is.
 *
 * dockerode (the control path) pulls in ssh2, whose native parts are optional and used only for
 * ssh:// Docker hosts, which the proxy never talks to: `cpu-features` and ssh2's `sshcrypto.node`
 * stay outside the bundle, and ssh2 falls back to pure JS (its requires are inside try/catch).
 */
const NATIVE = ["cpu-features", /\.node$/];

export default defineConfig({
  entry: { "powerstrip-proxy": "src/cli.ts" },
  outDir: "dist/image",
  format: ["esm"],
  outExtension: () => ({ js: ".mjs" }),
  target: "node20",
  platform: "node",
  dts: false,
  sourcemap: false,
  clean: true,
  splitting: false,
  // Bundled CommonJS code reads __dirname and __filename (ssh2 does, at load time): define them.
  shims: true,
  // Bundle every import (the default leaves package.json dependencies outside), except the natives.
  noExternal: [/^(?!cpu-features$)(?!.*\.node$)/],
  external: NATIVE,
  esbuildOptions(options) {
    options.conditions = ["source"];
  },
  // Bundled CommonJS dependencies call require() for Node's built-ins: give the ESM bundle one.
  banner: {
    js: 'import { createRequire as __powerstripCreateRequire } from "node:module"; const require = __powerstripCreateRequire(import.meta.url);',
  },
});
