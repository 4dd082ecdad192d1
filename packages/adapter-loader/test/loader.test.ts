// The loader on the real engine: powerstrip/socketplane (a compose set of two host-network
// services, one serving hooks) loaded and unloaded with the powerstrip command, a broken compose
// file, a lifecycle-only set, the loader killed, a service dying, and a proxy restart re-adopting
// the set.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AdapterHost,
  DockerRuntime,
  type RunningAdminServer,
  StateStore,
  startAdminServer,
} from "@powerstrip/adapter-host";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  type DockerTarget,
  dockerodeFor,
  RUN_ID,
  RUN_LABEL,
  removeLabelled,
  startTestProxy,
  TEST_LABEL,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureImages } from "../../../tools/images/build-images.mjs";
// The CLI in-process with its output captured, as the CLI's own tests run it.
import { runCli } from "../../cli/src/testing/harness.js";

const exec = promisify(execFile);
const docker = dockerodeFor("/var/run/docker.sock");
const EXAMPLE = "powerstrip/socketplane:latest";
const BROKEN = `pst-test/${uniqueName("broken")}:1`;
const LIFECYCLE = `pst-test/${uniqueName("lifecycle")}:1`;
// On a registry that is not there (loopback, port 1), so that a missing tag is never pulled from Docker Hub.
const RETAGGED = `localhost:1/${uniqueName("sp")}:1`;
const MISSING = `pst-test/${uniqueName("missing")}:1`;
const dirs: string[] = [];

interface Stack {
  target: DockerTarget;
  proxy: RunningProxy;
  host: AdapterHost;
  admin: RunningAdminServer;
  stateDir: string;
  cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The proxy goes away (adapters keep running, as on a restart). */
  close(): Promise<void>;
}

async function startStack(stateDir?: string): Promise<Stack> {
  let proxy: RunningProxy | undefined;
  const target = await startTestProxy(async (options) => {
    proxy = await startProxy(options);
    return proxy;
  });
  const dir = stateDir ?? (await mkdtemp(join(tmpdir(), "pst-loader-engine-")));
  if (stateDir === undefined) dirs.push(dir);
  const store = await StateStore.open(dir);
  const host = new AdapterHost(proxy!.hooks, {
    runtime: DockerRuntime.connect("unix:///var/run/docker.sock", { stopTimeoutS: 10 }),
    store,
    socketTimeoutMs: 30_000,
    labels: { [TEST_LABEL]: RUN_ID },
  });
  const admin = await startAdminServer({ address: `unix://${join(dir, "admin.sock")}`, host });
  return {
    target,
    proxy: proxy!,
    host,
    admin,
    stateDir: dir,
    cli: (...argv: string[]) => runCli(["--admin", admin.address, ...argv]),
    async close() {
      await admin.close();
      await target.close();
      await host.close();
    },
  };
}

/** Builds `FROM powerstrip/adapter-loader` with this docker-compose.yml, as a user does. */
async function buildLoaderImage(tag: string, composeYaml: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pst-loader-image-"));
  dirs.push(dir);
  await writeFile(join(dir, "Dockerfile"), "FROM powerstrip/adapter-loader:latest\n");
  await writeFile(join(dir, "docker-compose.yml"), composeYaml);
  await exec("docker", ["build", "-q", "--label", RUN_LABEL, "-t", tag, dir]);
}

/** Containers of an adapter (the loader and its set), by label, from the engine. */
function containersOf(name: string) {
  return docker.listContainers({ all: true, filters: { label: [`io.powerstrip.adapter=${name}`] } });
}

async function nothingLeft(name: string, stateDir: string): Promise<void> {
  expect(await containersOf(name)).toEqual([]);
  expect(await docker.listNetworks({ filters: { label: [`io.powerstrip.adapter=${name}`] } })).toEqual([]);
  expect(await docker.listVolumes({ filters: { label: [`io.powerstrip.adapter=${name}`] } })).toMatchObject({
    Volumes: [],
  });
  expect(existsSync(join(stateDir, "run", name))).toBe(false);
}

/** Polls (bounded) until `check` holds. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const stacks: Stack[] = [];

beforeAll(async () => {
  await ensureImages(["powerstrip/socketplane"]);
  // The example under another repository name: its provisional name differs from the declared one.
  await exec("docker", ["tag", EXAMPLE, RETAGGED]);
  await buildLoaderImage(BROKEN, "services:\n  a: [this is: not: yaml\n");
  await buildLoaderImage(
    LIFECYCLE,
    [
      'version: "2.4"',
      "services:",
      "  worker:",
      "    image: powerstrip/base-node:latest",
      '    command: ["sh", "-c", "trap \'exit 0\' TERM; while :; do sleep 1; done"]',
      "    volumes:",
      "      - data:/data",
      "volumes:",
      "  data: {}",
      "",
    ].join("\n"),
  );
  // An image on a registry that is not there (loopback, port 1): the pull is refused.
  await buildLoaderImage(MISSING, "services:\n  gone:\n    image: localhost:1/pst-missing:1\n");
}, 300_000);

afterAll(async () => {
  for (const stack of stacks) await stack.close().catch(() => {});
  await removeLabelled();
  await exec("docker", ["rmi", RETAGGED]).catch(() => {});
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe("adapter-loader on the engine", () => {
  it("loads the socketplane example (hooks live, --env reaches compose) and unloads it, leaving nothing", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const name = uniqueName("sp");
    const t0 = Date.now();
    const loaded = await stack.cli(
      "load",
      EXAMPLE,
      "--allow-docker",
      "--name",
      name,
      "--env",
      "SOCKETPLANE_NETWORK=blue",
      "--json",
    );
    expect(loaded.stderr).toBe("");
    expect(loaded.code).toBe(0);
    const loadMs = Date.now() - t0;
    const info = JSON.parse(loaded.stdout);
    expect(info).toMatchObject({ name, state: "ready", dockerSocket: true });
    expect(info.hooks.length).toBeGreaterThan(0);

    const containers = await containersOf(name);
    const services = containers.map((c) => c.Labels["com.docker.compose.service"] ?? "(loader)").sort();
    expect(services).toEqual(["(loader)", "ovs", "socketplane"]);
    for (const c of containers) {
      expect(c.State).toBe("running");
      expect(c.Labels[TEST_LABEL]).toBe(RUN_ID);
    }
    for (const c of containers.filter((c) => c.Labels["com.docker.compose.service"])) {
      const inspected = await docker.getContainer(c.Id).inspect();
      expect(inspected.HostConfig.NetworkMode).toBe("host");
      expect(inspected.HostConfig.CapAdd).toContain("NET_ADMIN");
      expect(c.Labels["com.docker.compose.project"]).toBe(`powerstrip-${name}`);
    }

    // The hooks service's pre-hook, through the proxy, with the variable from --env.
    const created = await stack.target.docker([
      "create",
      "--label",
      RUN_LABEL,
      "--pull",
      "never",
      "powerstrip/base-node:latest",
      "true",
    ]);
    expect(created.code).toBe(0);
    const id = created.stdout.toString().trim();
    const labels = (await docker.getContainer(id).inspect()).Config.Labels;
    expect(labels["io.socketplane.network"]).toBe("blue");
    await docker.getContainer(id).remove({ force: true });

    const t1 = Date.now();
    const unloaded = await stack.cli("unload", name);
    expect(unloaded.code).toBe(0);
    const unloadMs = Date.now() - t1;
    await nothingLeft(name, stack.stateDir);
    console.log(`socketplane: load ${loadMs} ms, unload ${unloadMs} ms`);
  });

  it("refuses a loader image without --allow-docker, in one line, before creating anything", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const name = uniqueName("nodocker");
    const result = await stack.cli("load", EXAMPLE, "--name", name);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `powerstrip: ${EXAMPLE} is a loader image (label io.powerstrip.loader=true): it runs containers through the Docker engine's socket, which gives it control of this host; add --allow-docker to grant that\n`,
    );
    await nothingLeft(name, stack.stateDir);
    expect(stack.host.list()).toEqual([]);
  });

  it("refuses a broken compose file with a clear error from powerstrip load, and leaves nothing", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const name = uniqueName("broken");
    const result = await stack.cli("load", BROKEN, "--allow-docker", "--name", name);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/docker-compose\.yml is not valid YAML/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    console.log(`broken compose file: ${result.stderr.trim()}`);
    await nothingLeft(name, stack.stateDir);
  });

  it("refuses a set whose image is missing and cannot be pulled, naming the service", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const name = uniqueName("missing");
    const result = await stack.cli("load", MISSING, "--allow-docker", "--name", name);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /service gone: image localhost:1\/pst-missing:1 is not on this host and could not be pulled/,
    );
    await nothingLeft(name, stack.stateDir);
  });

  it("loads the example under the name its hooks service declares, leaving nothing under the provisional one", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const provisional = RETAGGED.split("/")[1]!.split(":")[0]!;
    const loaded = await stack.cli("load", RETAGGED, "--allow-docker", "--json");
    expect(loaded.stderr).toBe("");
    expect(JSON.parse(loaded.stdout)).toMatchObject({ name: "socketplane", state: "ready" });
    // The host recreated the loader under the declared name; the new loader reaped the first set.
    await nothingLeft(provisional, stack.stateDir);
    expect(await containersOf("socketplane")).toHaveLength(3);
    expect((await stack.cli("unload", "socketplane")).code).toBe(0);
    await nothingLeft("socketplane", stack.stateDir);
  });

  it("loads a set without a hooks service as a lifecycle-only adapter named after its image", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const name = LIFECYCLE.split("/")[1]!.split(":")[0]!;
    const loaded = await stack.cli("load", LIFECYCLE, "--allow-docker", "--json");
    expect(loaded.stderr).toBe("");
    expect(JSON.parse(loaded.stdout)).toMatchObject({ name, state: "ready", hooks: [] });
    const containers = await containersOf(name);
    expect(containers.map((c) => c.Labels["com.docker.compose.service"] ?? "(loader)").sort()).toEqual([
      "(loader)",
      "worker",
    ]);
    expect(await docker.listNetworks({ filters: { label: [`io.powerstrip.adapter=${name}`] } })).toHaveLength(
      1,
    );
    expect(
      (await docker.listVolumes({ filters: { label: [`io.powerstrip.adapter=${name}`] } })).Volumes,
    ).toHaveLength(1);

    // A service that dies: the loader exits, the adapter is listed failed, Docker restarts the
    // loader, whose compose up brings the service back.
    const worker = containers.find((c) => c.Labels["com.docker.compose.service"] === "worker")!;
    await docker.getContainer(worker.Id).kill();
    await until("the adapter listed failed", async () => stack.host.inspect(name).state === "failed");
    expect(stack.host.inspect(name).error).toMatch(/exited with code 3/);
    await until("the adapter back", async () => stack.host.inspect(name).state === "ready");
    expect((await docker.getContainer(worker.Id).inspect()).State.Running).toBe(true);

    expect((await stack.cli("unload", name)).code).toBe(0);
    await nothingLeft(name, stack.stateDir);
  });

  it("reports a killed loader in powerstrip ls (the set keeps running); unload removes it all", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const name = uniqueName("killed");
    expect((await stack.cli("load", EXAMPLE, "--allow-docker", "--name", name)).code).toBe(0);
    await docker.getContainer(`powerstrip-${name}`).kill();
    await until("the adapter listed failed", async () => stack.host.inspect(name).state === "failed");
    const ls = JSON.parse((await stack.cli("ls", "--json")).stdout) as { name: string; state: string }[];
    expect(ls.find((a) => a.name === name)?.state).toBe("failed");
    const set = (await containersOf(name)).filter((c) => c.Labels["com.docker.compose.service"]);
    expect(set.map((c) => c.State)).toEqual(["running", "running"]);
    expect((await stack.cli("unload", name)).code).toBe(0);
    await nothingLeft(name, stack.stateDir);
  });

  it("leaves a killed loader's network and volume after unload, until the image is loaded again", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const killed = uniqueName("orphan");
    const next = uniqueName("next");
    const byLabel = (name: string) => ({ filters: { label: [`io.powerstrip.adapter=${name}`] } });
    expect((await stack.cli("load", LIFECYCLE, "--allow-docker", "--name", killed)).code).toBe(0);
    await docker.getContainer(`powerstrip-${killed}`).kill();
    await until("the adapter listed failed", async () => stack.host.inspect(killed).state === "failed");
    expect((await stack.cli("unload", killed)).code).toBe(0);
    expect(await containersOf(killed)).toEqual([]);
    expect(await docker.listNetworks(byLabel(killed))).toHaveLength(1);
    expect((await docker.listVolumes(byLabel(killed))).Volumes).toHaveLength(1);
    expect((await stack.cli("load", LIFECYCLE, "--allow-docker", "--name", next)).code).toBe(0);
    await nothingLeft(killed, stack.stateDir);
    expect((await stack.cli("unload", next)).code).toBe(0);
    await nothingLeft(next, stack.stateDir);
  });

  it("reloads: the set comes back whole under a new loader", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const name = uniqueName("reload");
    expect((await stack.cli("load", EXAMPLE, "--allow-docker", "--name", name)).code).toBe(0);
    const reloaded = await stack.cli("reload", name, "--json");
    expect(reloaded.stderr).toBe("");
    expect(JSON.parse(reloaded.stdout)).toMatchObject({ name, state: "ready" });
    const containers = await containersOf(name);
    expect(containers).toHaveLength(3);
    expect(containers.every((c) => c.State === "running")).toBe(true);
    expect((await stack.cli("unload", name)).code).toBe(0);
    await nothingLeft(name, stack.stateDir);
  });

  it("re-adopts the set when the proxy restarts: same containers, not recreated", async () => {
    const first = await startStack();
    const name = uniqueName("readopt");
    expect((await first.cli("load", EXAMPLE, "--allow-docker", "--name", name)).code).toBe(0);
    const before = (await containersOf(name)).map((c) => c.Id).sort();
    await first.close();

    const second = await startStack(first.stateDir);
    stacks.push(second);
    await second.host.boot([]);
    await until("re-adopted", async () => second.host.inspect(name).state === "ready");
    const after = await containersOf(name);
    expect(after.map((c) => c.Id).sort()).toEqual(before);
    expect(after.every((c) => c.State === "running")).toBe(true);
    expect((await second.cli("unload", name)).code).toBe(0);
    await nothingLeft(name, second.stateDir);
  });
});
