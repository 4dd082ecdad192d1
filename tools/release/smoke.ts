// The release smoke test: what a user gets from npm, without the workspace.
//   1. npm pack every published package;
//   2. install the tarballs in a fresh folder outside the repo, without devDependencies;
//   3. import each package (ESM) and check it exports something; check its types resolve (tsc,
//      NodeNext, against the installed files);
//   4. run `powerstrip --help` from the installed files;
//   5. `powerstrip new adapter` from the installed files; the project installs the packed SDK,
//      and its `npm test`, typecheck and build pass;
//   6. run an SDK adapter from the installed files: serve() on a unix socket, then the handshake
//      and a pre-hook call over that socket, as the proxy makes them.
// Run: npm run smoke   (after npm run build; needs the npm registry for third-party dependencies,
// or a warm npm cache). `--keep` leaves the folder for inspection.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pack, publishedPackages, repoRoot } from "./packages.js";

const ADAPTER = `import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineAdapter, serve } from "@powerstrip/adapter-sdk";
import { callPreHook } from "@powerstrip/adapter-sdk/testing";

const adapter = defineAdapter({
  name: "smoke",
  hooks: {
    "POST /containers/create": {
      pre(ctx) {
        if (ctx.body.Image === "bad") return ctx.deny(403, "no bad images");
        return { body: { ...ctx.body, Labels: { ...ctx.body.Labels, smoke: "yes" } } };
      },
    },
  },
});

// The testing entry, as an adapter's own tests use it.
const denied = await callPreHook(adapter, { method: "POST", path: "/containers/create", body: { Image: "bad" } });
if (JSON.stringify(denied).indexOf("no bad images") < 0) throw new Error("testing entry: " + JSON.stringify(denied));

// serve() over a unix socket, called as the proxy calls it.
const socket = join(tmpdir(), "powerstrip-smoke-" + process.pid + ".sock");
const running = await serve(adapter, { socket });
function post(path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk) => { text += chunk; }).on("end", () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}
try {
  const hs = await post("/powerstrip/handshake", { protocol: "powerstrip", versions: ["2"], proxy: { version: "0.0.0-smoke" } });
  if (hs.status !== 200 || hs.body.name !== "smoke") throw new Error("handshake: " + JSON.stringify(hs));
  const call = await post("/powerstrip/hook", {
    version: "2", requestId: "smoke-1", adapter: "smoke", stage: "pre", hook: "POST /containers/create",
    request: { method: "POST", path: "/containers/create", apiVersion: "1.41", params: {}, query: {},
      headers: { "content-type": "application/json" }, body: { Image: "debian" } },
  });
  if (call.status !== 200 || JSON.stringify(call.body).indexOf('"smoke":"yes"') < 0) throw new Error("hook: " + JSON.stringify(call));
  console.log("handshake ok; pre-hook rewrote the body:", JSON.stringify(call.body));
} finally {
  await running.close();
}
`;

const started = Date.now();
const keep = process.argv.includes("--keep");
const work = mkdtempSync(join(tmpdir(), "powerstrip-smoke-"));
const tarballs = join(work, "tarballs");
const app = join(work, "app");
mkdirSync(tarballs);
mkdirSync(app);

function step(text: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`);
}

function sh(command: string, args: string[], cwd: string, timeout = 120_000): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout });
  if (result.status !== 0) {
    const why = result.error ? result.error.message : `exit ${result.status}`;
    throw new Error(`${command} ${args.join(" ")} failed (${why}):\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

try {
  const { packages, skipped } = publishedPackages();
  for (const name of skipped) step(`skip ${name}`);
  step(`pack ${packages.map((pkg) => pkg.name).join(", ")}`);
  const files = packages.map((pkg) => pack(pkg, tarballs));

  // The commands users run come from the published @powerstrip/cli itself.
  const cli = packages.find((pkg) => pkg.name === "@powerstrip/cli");
  const bins = (cli?.manifest.bin ?? {}) as Record<string, string>;
  if (!bins.powerstrip || !bins["docker-powerstrip"]) {
    throw new Error("@powerstrip/cli must declare the powerstrip and docker-powerstrip bins");
  }

  writeFileSync(
    join(app, "package.json"),
    `${JSON.stringify({ name: "powerstrip-smoke", private: true, type: "module" }, null, 2)}\n`,
  );
  step("npm install the tarballs (--omit=dev)");
  sh(
    "npm",
    ["install", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline", "--install-links", ...files],
    app,
    300_000,
  );
  for (const pkg of packages) {
    const installed = join(app, "node_modules", ...pkg.name.split("/"), "package.json");
    const version = (JSON.parse(readFileSync(installed, "utf8")) as { version: string }).version;
    if (version !== pkg.version) throw new Error(`${pkg.name}: installed ${version}, packed ${pkg.version}`);
  }

  step("import each package (ESM)");
  const entries = packages.flatMap((pkg) =>
    Object.keys(pkg.manifest.exports as Record<string, unknown>)
      .filter((key) => key !== "./package.json" && !key.includes("*"))
      .map((key) => (key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`)),
  );
  const importer = entries
    .map(
      (entry) =>
        `{ const m = await import(${JSON.stringify(entry)}); const n = Object.keys(m).length; if (n === 0) throw new Error(${JSON.stringify(`${entry} exports nothing`)}); console.log(${JSON.stringify(entry)}, n, "exports"); }`,
    )
    .join("\n");
  writeFileSync(join(app, "import-all.mjs"), `${importer}\n`);
  process.stdout.write(sh("node", ["import-all.mjs"], app));

  // Gate: what a consumer with `tsc --init` defaults (skipLibCheck) gets. Then, as a warning,
  // with the packages' own declarations checked too (a type from a devDependency shows up there).
  step("types resolve (tsc, NodeNext)");
  writeFileSync(
    join(app, "types.mts"),
    `${entries.map((entry, i) => `import * as m${i} from ${JSON.stringify(entry)};`).join("\n")}\nexport const all = [${entries.map((_, i) => `m${i}`).join(", ")}];\n`,
  );
  const tsc = [
    join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
    "--noEmit",
    "--strict",
    "--module",
    "nodenext",
    "--moduleResolution",
    "nodenext",
    "--target",
    "es2022",
    "--typeRoots",
    join(repoRoot, "node_modules", "@types"),
    "--types",
    "node",
    "types.mts",
  ];
  sh(process.execPath, [...tsc, "--skipLibCheck"], app);
  const libCheck = spawnSync(process.execPath, tsc, { cwd: app, encoding: "utf8", timeout: 120_000 });
  if (libCheck.status !== 0)
    console.log(`warning: with skipLibCheck off:\n${libCheck.stdout}${libCheck.stderr}`);

  step("powerstrip --help");
  const bin = join(app, "node_modules", ".bin", "powerstrip");
  if (!existsSync(bin)) throw new Error("no node_modules/.bin/powerstrip after install");
  const help = sh(bin, ["--help"], app);
  if (!help.includes("Usage: powerstrip")) throw new Error(`unexpected powerstrip --help:\n${help}`);
  console.log(help.split("\n")[0]);

  step("powerstrip new adapter, with the packed SDK: npm install, test, typecheck, build");
  const tarballOf = (name: string) => files[packages.findIndex((pkg) => pkg.name === name)]!;
  const starter = join(work, "starter");
  sh(
    bin,
    [
      "new",
      "adapter",
      "smoke-adapter",
      "--dir",
      starter,
      "--sdk",
      `file:${tarballOf("@powerstrip/adapter-sdk")}`,
    ],
    app,
  );
  // @powerstrip/protocol is not on the registry yet either: the packed one stands in.
  sh(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", tarballOf("@powerstrip/protocol")],
    starter,
    300_000,
  );
  const tested = sh("npm", ["test"], starter);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips vitest's colours
  console.log(tested.replace(/\x1b\[[0-9;]*m/g, "").match(/Tests\s+.*passed.*/)?.[0] ?? "npm test passed");
  sh("npm", ["run", "typecheck"], starter);
  sh("npm", ["run", "build"], starter);

  step("an SDK adapter from the packed files, over a unix socket");
  writeFileSync(join(app, "adapter.mjs"), ADAPTER);
  process.stdout.write(sh("node", ["adapter.mjs"], app, 60_000));
  step(`smoke test passed in ${work}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
