import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AdapterHost } from "@powerstrip/adapter-host";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  removeLabelled,
  startTestProxy,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What a third party does: `npm install @powerstrip/adapter-sdk` in a project of their own, write
// the DESIGN §4 adapter in plain JavaScript, and run it with node. Here the SDK and the protocol
// are the packed tarballs of this workspace (their own dependencies come from the npm registry),
// installed in a temp project outside the workspace; the adapter is loaded into an in-process
// proxy by URL, and the docker CLI goes through the proxy.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const PACKAGES = ["packages/protocol", "packages/adapter-sdk"];
/** The DESIGN §4 form in plain JavaScript, the same file javascript-fixture.test.ts runs in the workspace. */
const ADAPTER_SOURCE = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "test-fixtures",
  "label-injector.mjs",
);
const INSTALL_TIMEOUT_MS = 120_000;
const BUILD_TIMEOUT_MS = 150_000;
const execFileP = promisify(execFile);

let work: string;
let child: ChildProcess | undefined;
let childExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let childStderr = "";
let socket: string;
let target: DockerTarget;
let host: AdapterHost;

beforeAll(
  async () => {
    work = await mkdtemp(join(tmpdir(), "pst-third-party-"));
    await ensureBuilt();
    const tarballs = await pack(join(work, "tarballs"));
    const project = join(work, "my-adapter");
    await npmInstall(project, tarballs);
    await copyFile(ADAPTER_SOURCE, join(project, "adapter.mjs"));

    socket = join(work, "run", "my-adapter.sock");
    const address = await startAdapter(project, socket);
    expect(address).toBe(`unix://${socket}`);

    let proxy: RunningProxy | undefined;
    target = await startTestProxy(async (options) => (proxy = await startProxy(options)));
    host = new AdapterHost(proxy!.hooks);
  },
  BUILD_TIMEOUT_MS + INSTALL_TIMEOUT_MS + 30_000,
);

afterAll(async () => {
  await removeLabelled();
  await host?.close();
  child?.kill("SIGKILL");
  await target?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("a third-party adapter built on the packed SDK", () => {
  it("is installed from the tarballs alone, outside the workspace", async () => {
    const project = join(work, "my-adapter", "node_modules", "@powerstrip");
    expect((await readdir(project)).sort()).toEqual(["adapter-sdk", "protocol"]);
    // One protocol, the tarball's: the SDK's dependency on it is satisfied at the top level.
    expect(existsSync(join(project, "adapter-sdk", "node_modules"))).toBe(false);
  });

  it("loads by URL: the handshake declares what the adapter implements", async () => {
    const info = await host.loadUrl({ url: `unix://${socket}` });
    expect(info).toMatchObject({
      name: "label-injector",
      state: "ready",
      priority: 100,
      failurePolicy: "fail",
      timeoutMs: 2000,
      hooks: [
        { method: "POST", path: "/containers/create", stage: "pre" },
        { method: "POST", path: "/containers/create", stage: "post" },
        { method: "POST", path: "/containers/{id}/start", stage: "post" },
      ],
    });
  });

  it("docker create gets the label, and the post-hook's warning reaches the CLI", async () => {
    const name = uniqueName("third-party");
    const created = succeeded(
      await target.docker(["create", ...containerFlags(name), "--label", "team=web", BASE_IMAGE, "true"]),
    );
    expect(created.stderr).toContain(`WARNING: labelled ${name}`);
    const labels = succeeded(await target.docker(["inspect", "--format", "{{json .Config.Labels}}", name]));
    expect(JSON.parse(labels.stdout.toString())).toMatchObject({ team: "web", seen: "yes" });
    succeeded(await target.docker(["start", name]));
  });

  it("docker create of a refused image fails with the adapter's message", async () => {
    const result = await target.docker(["create", ...containerFlags(uniqueName("bad")), "bad"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe("Error response from daemon: no bad images");
  });

  it("stops on SIGTERM with status 0 and removes its socket", async () => {
    await host.unload("label-injector");
    child!.kill("SIGTERM");
    expect(await childExit).toEqual({ code: 0, signal: null });
    expect(existsSync(socket)).toBe(false);
    expect(childStderr).toMatch(/label-injector info: SIGTERM/);
  });
});

/** Builds protocol and adapter-sdk unless every dist file is newer than every input. */
async function ensureBuilt(): Promise<void> {
  const stale: string[] = [];
  for (const pkg of PACKAGES) {
    const dir = join(ROOT, pkg);
    const built = await oldest(join(dir, "dist"));
    const inputs = await newest([
      join(dir, "src"),
      join(dir, "schemas"),
      join(dir, "package.json"),
      join(dir, "tsup.config.ts"),
    ]);
    if (built === undefined || inputs > built) stale.push(pkg);
  }
  if (stale.length === 0) return;
  await execFileP(
    "npx",
    ["nx", "run-many", "-t", "build", "-p", "@powerstrip/protocol", "@powerstrip/adapter-sdk"],
    {
      cwd: ROOT,
      env: { ...process.env, NX_DAEMON: "false", NX_TUI: "false" },
      timeout: BUILD_TIMEOUT_MS,
    },
  );
}

/** `npm pack`s protocol and adapter-sdk into `into`; returns the tarballs' paths. */
async function pack(into: string): Promise<string[]> {
  await mkdir(into, { recursive: true });
  const { stdout } = await execFileP(
    "npm",
    ["pack", ...PACKAGES.map((p) => `./${p}`), "--pack-destination", into, "--json"],
    { cwd: ROOT, env: npmEnv(), timeout: 60_000 },
  ).catch((error) => {
    throw new Error(`npm pack failed: ${error.stderr ?? error.message}`);
  });
  const packed = JSON.parse(stdout) as Array<{ filename: string }>;
  return packed.map((p) => join(into, p.filename));
}

/** A fresh project that installs the tarballs, as a third party's would: one `npm install`. */
async function npmInstall(project: string, tarballs: string[]): Promise<void> {
  await mkdir(project, { recursive: true });
  await writeFile(
    join(project, "package.json"),
    `${JSON.stringify({ name: "my-adapter", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  await execFileP("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], {
    cwd: project,
    env: npmEnv(),
    timeout: INSTALL_TIMEOUT_MS,
  }).catch((error) => {
    const why = error.killed ? `timed out after ${INSTALL_TIMEOUT_MS} ms` : (error.stderr ?? error.message);
    throw new Error(`npm install of the packed SDK failed: ${why}`);
  });
}

/** Starts `node adapter.mjs` with POWERSTRIP_ADAPTER_SOCKET; resolves with the address it serves. */
function startAdapter(project: string, socketPath: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...npmEnv(), POWERSTRIP_ADAPTER_SOCKET: socketPath };
  delete env.NODE_OPTIONS; // nothing of the test runner's: a plain `node`
  child = spawn(process.execPath, ["adapter.mjs"], { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] });
  childExit = new Promise((resolveExit) =>
    child!.once("exit", (code, signal) => resolveExit({ code, signal })),
  );
  child.stderr!.on("data", (chunk: Buffer) => {
    childStderr += chunk.toString();
  });
  return new Promise((resolveReady, reject) => {
    let stdout = "";
    const timer = setTimeout(
      () => reject(new Error(`the adapter was not ready within 15 s: ${childStderr}`)),
      15_000,
    );
    child!.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /^ready (\S+)$/m.exec(stdout);
      if (ready) {
        clearTimeout(timer);
        resolveReady(ready[1]!);
      }
    });
    void childExit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the adapter exited (${code ?? signal}) before it was ready: ${childStderr}`));
    });
  });
}

/**
 * This process's environment without the npm settings an enclosing `npm test` exports
 * (npm_config_*), which would otherwise steer the nested npm; where the registry and the cache
 * are stays as configured.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set([
    "npm_config_registry",
    "npm_config_cache",
    "npm_config_userconfig",
    "npm_config_globalconfig",
  ]);
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => {
      const lower = key.toLowerCase();
      return (
        keep.has(lower) ||
        !(
          lower.startsWith("npm_config_") ||
          lower.startsWith("npm_package_") ||
          lower.startsWith("npm_lifecycle_")
        )
      );
    }),
  );
}

/** The latest modification time of any file under `paths` (0 when none exists). Tests are not inputs. */
async function newest(paths: string[]): Promise<number> {
  let latest = 0;
  for (const path of paths) {
    for (const file of await files(path)) {
      if (!file.endsWith(".test.ts")) latest = Math.max(latest, (await stat(file)).mtimeMs);
    }
  }
  return latest;
}

/** The earliest modification time of any file under `dir`, or undefined when it has none. */
async function oldest(dir: string): Promise<number | undefined> {
  const all = await files(dir);
  if (all.length === 0) return undefined;
  let earliest = Number.POSITIVE_INFINITY;
  for (const file of all) earliest = Math.min(earliest, (await stat(file)).mtimeMs);
  return earliest;
}

async function files(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => null);
  if (info === null) return [];
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}
