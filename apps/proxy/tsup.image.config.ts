import { cp, mkdir, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
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

/**
 * koffi (proxy-core's optional FFI, for the unix peer's uid: SO_PEERCRED) is native and cannot be
 * bundled: it goes next to the bundle in dist/image/node_modules, with the prebuilt binary package
 * npm installed for this platform. The directory is made even when koffi is absent (the image
 * then reports no uid, as documented), so the Dockerfile's COPY always has a source.
 */
async function copyKoffi(): Promise<void> {
  const target = join("dist", "image", "node_modules");
  await mkdir(target, { recursive: true });
  const fromProxyCore = createRequire(join(import.meta.dirname, "../../packages/proxy-core/package.json"));
  let koffiDir: string;
  try {
    koffiDir = dirname(fromProxyCore.resolve("koffi")); // its main file is at the package's root
  } catch {
    return;
  }
  await cp(koffiDir, join(target, "koffi"), { recursive: true });
  const scope = join(koffiDir, "..", "@koromix");
  for (const entry of await readdir(scope).catch(() => [] as string[])) {
    if (entry.startsWith("koffi-"))
      await cp(join(scope, entry), join(target, "@koromix", entry), { recursive: true });
  }
}

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
  onSuccess: copyKoffi,
  banner: {
    js: 'import { createRequire as __powerstripCreateRequire } from "node:module"; const require = __powerstripCreateRequire(import.meta.url);',
  },
});
