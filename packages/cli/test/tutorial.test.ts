// The steps of docs/tutorial-first-adapter.md, run as written: `powerstrip new adapter`, npm install
// (the packed SDK instead of the registry), npm test, build, docker build, `powerstrip load` into a
// proxy, a docker CLI call through it, unload. Needs `npm run build` (it packs dist/) and the
// local base image `powerstrip/base-node` (`npm run images`).
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AdapterHost,
  DockerRuntime,
  type RunningAdminServer,
  startAdminServer,
} from "@powerstrip/adapter-host";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  isDirectMode,
  RUN_ID,
  removeLabelled,
  startTestProxy,
  succeeded,
  TEST_LABEL,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/testing/harness.js";
import { labelsOf } from "./stack.js";

const repoRoot = join(import.meta.dirname, "..", "..", "..");
const NAME = uniqueName("tutorial").toLowerCase();
const IMAGE = `pst-test/${NAME}:1`;

/** A command of the tutorial, bounded in time; its output is in the failure message. */
function sh(command: string, args: string[], cwd: string, timeout = 240_000): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout,
    env: { ...process.env, CI: "true" },
  });
  if (result.status !== 0) {
    const why = result.error ? result.error.message : `exit ${result.status}`;
    throw new Error(`${command} ${args.join(" ")} (${why}):\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

const powerstrip = (...argv: string[]) => runCli(argv);

describe.skipIf(isDirectMode())("the first-adapter tutorial", () => {
  let work: string;
  let project: string;
  let target: DockerTarget;
  let proxy: RunningProxy | undefined;
  let host: AdapterHost;
  let admin: RunningAdminServer;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "pst-tutorial-"));
    project = join(work, NAME);
    let proxyStarted: RunningProxy | undefined;
    target = await startTestProxy(async (options) => {
      proxyStarted = await startProxy(options);
      return proxyStarted;
    });
    proxy = proxyStarted;
    host = new AdapterHost(proxy!.hooks, {
      runtime: DockerRuntime.connect("unix:///var/run/docker.sock", { stopTimeoutS: 5 }),
      runDir: join(work, "run"),
      labels: { [TEST_LABEL]: RUN_ID },
    });
    admin = await startAdminServer({ address: `unix://${join(work, "admin.sock")}`, host });
  });
  afterAll(async () => {
    await powerstrip("--admin", admin.address, "unload", NAME).catch(() => undefined);
    await removeLabelled();
    await admin?.close();
    await target?.close();
    await host?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("writes the project, whose tests pass against the packed SDK", async () => {
    // Step 1 of the tutorial: the packed SDK and protocol stand in for the registry.
    const tarballs = ["adapter-sdk", "protocol"].map((pkg) => {
      const out = sh("npm", ["pack", "--json", "--pack-destination", work], join(repoRoot, "packages", pkg));
      return join(work, (JSON.parse(out) as [{ filename: string }])[0].filename);
    });
    const created = await powerstrip(
      "new",
      "adapter",
      NAME,
      "--dir",
      project,
      "--image",
      IMAGE,
      "--sdk",
      `file:${tarballs[0]}`,
    );
    expect(created).toMatchObject({ code: 0, stderr: "" });
    // Steps 2–4: install (bounded), test, typecheck, build.
    sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarballs[1]!], project);
    expect(sh("npm", ["test"], project)).toMatch(/3 passed/);
    sh("npm", ["run", "typecheck"], project);
    sh("npm", ["run", "build"], project);
  }, 600_000);

  it("builds its image and loads it with powerstrip load", async () => {
    // Step 5: the local Node base stands in for node:20-bookworm-slim.
    sh(
      "docker",
      [
        "build",
        "-q",
        "--build-arg",
        `BASE_IMAGE=${BASE_IMAGE}`,
        "--label",
        `${TEST_LABEL}=${RUN_ID}`,
        "-t",
        IMAGE,
        ".",
      ],
      project,
    );
    const loaded = await powerstrip("--admin", admin.address, "load", IMAGE, "--quiet");
    expect(loaded.stderr).toBe("");
    expect(loaded.code).toBe(0);
    const listed = await powerstrip("--admin", admin.address, "ls", "--json");
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: NAME, source: IMAGE })]);
  });

  it("hooks docker CLI calls through the proxy, then unloads", async () => {
    const name = uniqueName("tut-c");
    succeeded(await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]));
    expect(await labelsOf(target, name)).toMatchObject({ "io.powerstrip.seen-by": NAME });

    const privileged = await target.docker([
      "create",
      ...containerFlags(uniqueName("tut-p")),
      "--privileged",
      BASE_IMAGE,
      "true",
    ]);
    expect(privileged.code).not.toBe(0);
    expect(privileged.stderr).toContain("privileged containers are not allowed");

    expect((await powerstrip("--admin", admin.address, "unload", NAME)).code).toBe(0);
  });
});
