// AdapterHost over the real engine (DockerRuntime): image adapters loaded, hooked into a real
// proxy that the docker CLI talks through, broken in every way the issue lists, and cleaned up.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HookRegistry, type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  dockerodeFor,
  isDirectMode,
  RUN_ID,
  removeLabelled,
  startTestProxy,
  succeeded,
  TEST_LABEL,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdapterHost, type AdapterHostOptions } from "../src/adapter-host.js";
import { DockerRuntime } from "../src/docker-runtime.js";
import { AdapterHostError } from "../src/errors.js";
import { StateStore } from "../src/state-store.js";
import {
  buildAdapterImage,
  buildLayeredImage,
  engineDocker,
  freePort,
  removeAdapterContainers,
  removeImages,
  startRegistry,
} from "./support/adapter-image.js";

const docker = dockerodeFor("/var/run/docker.sock");
const runtime = DockerRuntime.connect("unix:///var/run/docker.sock", { stopTimeoutS: 5 });
/** The adapter declares this name unless told otherwise; unique to this run. */
const DECLARED = uniqueName("adapter");
const IMAGE = `pst-test/${DECLARED}:1`;
const DENIED = "powerstrip/base-node:deny-me";

const stateDirs: string[] = [];
const hosts: AdapterHost[] = [];
const names: string[] = [DECLARED];

async function newHost(registry: HookRegistry, options: AdapterHostOptions = {}) {
  const stateDir = await mkdtemp(join(tmpdir(), "pst-host-engine-"));
  stateDirs.push(stateDir);
  const store = await StateStore.open(stateDir);
  const host = new AdapterHost(registry, {
    runtime,
    store,
    socketTimeoutMs: 10_000,
    labels: { [TEST_LABEL]: RUN_ID },
    ...options,
  });
  hosts.push(host);
  return { host, store, stateDir };
}

async function refusal(promise: Promise<unknown>): Promise<AdapterHostError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AdapterHostError);
  return error as AdapterHostError;
}

/** Containers of an adapter, by its label, straight from the engine. */
async function containersOf(name: string) {
  return docker.listContainers({ all: true, filters: { label: [`io.powerstrip.adapter=${name}`] } });
}

/** Nothing of a failed load: no container under the name, no socket directory, nothing listed. */
async function expectNothingLeft(host: AdapterHost, stateDir: string, name: string): Promise<void> {
  expect(await containersOf(name)).toEqual([]);
  const run = join(stateDir, "run");
  expect(existsSync(run) ? readdirSync(run) : []).toEqual([]);
  expect(host.list()).toEqual([]);
  const file = join(stateDir, "adapters.json");
  expect(existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).adapters : []).toEqual([]);
}

beforeAll(async () => {
  await buildAdapterImage(IMAGE, DECLARED);
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  for (const name of names) await removeAdapterContainers(name);
  await removeLabelled();
  await removeImages(IMAGE);
  for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(isDirectMode())("image adapters on the real engine", () => {
  let proxy: RunningProxy;
  let target: DockerTarget;

  beforeAll(async () => {
    target = await startTestProxy(async (options) => {
      proxy = await startProxy(options);
      return proxy;
    });
  });
  afterAll(async () => {
    await target?.close();
  });

  it("loads an image; the docker CLI goes through its hooks; logs; unload removes the container", async () => {
    const { host, stateDir } = await newHost(proxy.hooks);
    const info = await host.loadImage({ image: IMAGE, env: { DENY_IMAGE: DENIED } });
    expect(info).toMatchObject({ name: DECLARED, kind: "image", state: "ready", source: IMAGE });
    const id = info.container!.id;

    const inspected = await docker.getContainer(id).inspect();
    expect(inspected.Name).toBe(`/powerstrip-${DECLARED}`);
    expect(inspected.Config.Labels).toMatchObject({
      "io.powerstrip.adapter": DECLARED,
      "io.powerstrip.image": IMAGE,
      [TEST_LABEL]: RUN_ID,
    });
    expect(inspected.Config.Env).toEqual(
      expect.arrayContaining([
        "POWERSTRIP_ADAPTER_SOCKET=/run/powerstrip/adapter.sock",
        `POWERSTRIP_ADAPTER_NAME=${DECLARED}`,
        `DENY_IMAGE=${DENIED}`,
      ]),
    );
    expect(inspected.HostConfig.RestartPolicy?.Name).toBe("unless-stopped");
    expect(inspected.HostConfig.NetworkMode).toBe("none");
    expect(inspected.Mounts).toEqual([
      expect.objectContaining({ Source: join(stateDir, "run", DECLARED), Destination: "/run/powerstrip" }),
    ]);

    const denied = await target.docker(["create", ...containerFlags(uniqueName("denied")), DENIED]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(`${DECLARED}: ${DENIED} is not allowed`);
    const name = uniqueName("hooked");
    succeeded(await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]));
    expect((await docker.getContainer(name).inspect()).Config.Labels["io.powerstrip.seen"]).toBe(DECLARED);

    // Output reaches Docker's log asynchronously: follow it until the hooked call shows.
    let logs = "";
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), 10_000);
    for await (const chunk of await host.logs(DECLARED, { follow: true, signal: stop.signal })) {
      logs += `${chunk.stream}: ${chunk.text}`;
      if (logs.includes("hooked POST")) stop.abort();
    }
    clearTimeout(timer);
    expect(logs).toContain(`stdout: test adapter: handshake as ${DECLARED}\n`);
    expect(logs).toContain("stderr: test adapter: hooked POST /containers/create\n");

    await host.unload(DECLARED);
    expect(await containersOf(DECLARED)).toEqual([]);
    expect(existsSync(join(stateDir, "run", DECLARED))).toBe(false);
    expect(proxy.hooks.get(DECLARED)).toBeUndefined();
  });

  it("a container that dies is failed, and back when Docker restarts it (same container)", async () => {
    const logged: string[] = [];
    const { host } = await newHost(proxy.hooks, { log: (line) => logged.push(line) });
    const info = await host.loadImage({ image: IMAGE });
    const id = info.container!.id;
    // The adapter exits (0, on SIGTERM); the restart policy brings it back.
    await engineDocker(["exec", id, "sh", "-c", "kill -TERM 1"]);
    const deadline = Date.now() + 20_000;
    while (!logged.some((l) => l.includes("is back")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(logged).toEqual([
      `adapter ${DECLARED} failed: its container powerstrip-${DECLARED} exited with code 0; back when Docker restarts it, or on powerstrip reload ${DECLARED}`,
      `adapter ${DECLARED} is back (1 hook)`,
    ]);
    expect(host.inspect(DECLARED)).toMatchObject({ state: "ready", container: { id } });
    const name = uniqueName("after-restart");
    succeeded(await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]));
    expect((await docker.getContainer(name).inspect()).Config.Labels["io.powerstrip.seen"]).toBe(DECLARED);
    await host.unload(DECLARED);
  });
});

describe("broken images: one clear error, nothing left behind", () => {
  it("a container that exits at start: its exit code and its log", async () => {
    const name = uniqueName("exits");
    names.push(name);
    const { host, stateDir } = await newHost(new HookRegistry());
    const error = await refusal(host.loadImage({ image: IMAGE, name, env: { MODE: "exit" } }));
    expect(error.code).toBe("ADAPTER_START_FAILED");
    expect(error.message).toMatch(
      new RegExp(
        `^adapter ${IMAGE} \\(container powerstrip-${name}\\) exited (and is being restarted )?with code 3 before it listened on its socket; its last log lines: `,
      ),
    );
    // stdout and stderr reach the log separately: either order.
    expect(error.message).toContain("test adapter: mode exit on /run/powerstrip/adapter.sock");
    expect(error.message).toContain("test adapter: fatal: no configuration given");
    expect(error.message).not.toContain("\n");
    await expectNothingLeft(host, stateDir, name);
  });

  it("a socket that never appears: the deadline", async () => {
    const name = uniqueName("silent");
    names.push(name);
    const { host, stateDir } = await newHost(new HookRegistry(), { socketTimeoutMs: 1500 });
    const started = Date.now();
    const error = await refusal(host.loadImage({ image: IMAGE, name, env: { MODE: "silent" } }));
    expect(Date.now() - started).toBeLessThan(8000);
    expect(error.code).toBe("ADAPTER_START_FAILED");
    expect(error.message).toBe(
      `adapter ${IMAGE} (container powerstrip-${name}) did not listen on /run/powerstrip/adapter.sock within 1500 ms (does its process call serve() from @powerstrip/adapter-sdk, or listen on $POWERSTRIP_ADAPTER_SOCKET?); its last log lines: test adapter: mode silent on /run/powerstrip/adapter.sock`,
    );
    await expectNothingLeft(host, stateDir, name);
  });

  it("a refused handshake: the adapter's own message", async () => {
    const name = uniqueName("refuses");
    names.push(name);
    const { host, stateDir } = await newHost(new HookRegistry());
    const error = await refusal(host.loadImage({ image: IMAGE, name, env: { MODE: "refuse" } }));
    expect(error.code).toBe("HANDSHAKE_FAILED");
    expect(error.message).toBe(
      `handshake with ${IMAGE} failed: answered HTTP 400: test adapter: LABEL must be set`,
    );
    await expectNothingLeft(host, stateDir, name);
  });

  it("a name clash: the first adapter stays, the second leaves nothing", async () => {
    const name = uniqueName("clash");
    names.push(name);
    const { host } = await newHost(new HookRegistry());
    const first = await host.loadImage({ image: IMAGE, env: { DECLARE: name } });
    expect(first.name).toBe(name);
    const error = await refusal(host.loadImage({ image: IMAGE, env: { DECLARE: name } }));
    expect(error.code).toBe("NAME_TAKEN");
    expect(error.message).toMatch(
      new RegExp(`an adapter named ${name} is already loaded \\(from ${IMAGE}\\)`),
    );
    expect((await containersOf(name)).map((c) => c.Id)).toEqual([first.container!.id]);
    expect(host.list().map((a) => a.name)).toEqual([name]);
    // The provisional container (named after the image) is gone too.
    expect(await containersOf(DECLARED)).toEqual([]);
    await host.unload(name);
  });

  it("an image no registry has: cannot pull IMAGE, with the engine's reason", async () => {
    const image = `localhost:${await freePort()}/pst-test/nowhere:1`;
    const { host, stateDir } = await newHost(new HookRegistry());
    const error = await refusal(host.loadImage({ image }));
    expect(error.code).toBe("IMAGE_PULL_FAILED");
    expect(error.message).toMatch(new RegExp(`^cannot pull ${image}: .*connection refused`));
    await expectNothingLeft(host, stateDir, "nowhere");
  });
});

describe("pulling from a registry", () => {
  it("pulls a missing image from a loopback registry, with progress, then loads it", async () => {
    const registry = await startRegistry();
    const name = uniqueName("pulled");
    names.push(name);
    const remote = `${registry.host}/pst-test/${name}:1`;
    try {
      await buildLayeredImage(IMAGE, remote);
      await engineDocker(["push", remote], 90_000);
      await engineDocker(["image", "rm", remote]); // its own layer is gone; the base layers stay
      const { host } = await newHost(new HookRegistry());
      const progress: { id?: string; status: string }[] = [];
      const info = await host.loadImage({ image: remote, name }, (p) => progress.push(p));
      expect(info).toMatchObject({ name, source: remote, state: "ready" });
      const statuses = progress.map((p) => p.status);
      expect(statuses[0]).toBe(`Pulling from pst-test/${name}`);
      expect(progress.some((p) => p.id !== undefined && p.status === "Already exists")).toBe(true);
      expect(progress.some((p) => p.id !== undefined && p.status === "Pull complete")).toBe(true);
      expect(statuses.at(-1)).toBe(`Status: Downloaded newer image for ${remote}`);
      await host.unload(name);
    } finally {
      await removeImages(remote);
      await registry.close();
    }
  });
});
