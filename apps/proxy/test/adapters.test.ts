// The daemon with image adapters, as users run it: the boot list, the powerstrip command over its
// admin socket, the docker CLI through its socket, kill -9 and restarts on the same state dir.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "@powerstrip/cli";
import {
  BASE_IMAGE,
  containerFlags,
  dockerodeFor,
  removeLabelled,
  runClient,
  succeeded,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Engine-test support shared with adapter-host's engine tests (a candidate for @powerstrip/test-support).
import {
  buildAdapterImage,
  freePort,
  removeAdapterContainers,
  removeImages,
} from "../../../packages/adapter-host/test/support/adapter-image.js";
import { type Daemon, kill9, powerstrip as powerstripAt, said, startDaemon } from "./support/daemon.js";

const docker = dockerodeFor("/var/run/docker.sock");

/** Declared by the boot-list image; unique to this run. */
const BOOTED = uniqueName("boot");
const IMAGE = `pst-test/${BOOTED}:1`;
/** Loaded with the command, under --name. */
const LOADED = uniqueName("loaded");

const daemons: Daemon[] = [];
const dir = mkdtempSync(join(tmpdir(), "pst-daemon-adapters-"));
const stateDir = join(dir, "state");
const socket = join(dir, "docker.sock");
const admin = `unix://${join(dir, "admin.sock")}`;

/** The daemon on this file's sockets and state dir, with IMAGE in its boot list. */
async function startWithBootList(): Promise<Daemon> {
  const daemon = startDaemon(["--listen", `unix://${socket}`, "--admin", admin, "--state-dir", stateDir], {
    POWERSTRIP_ADAPTERS: IMAGE,
  });
  daemons.push(daemon);
  await said(daemon, /listening on/, "the daemon to listen");
  return daemon;
}

/** Whatever an earlier test left running on this file's sockets. */
async function killAll(): Promise<void> {
  await Promise.all(daemons.map(kill9));
}

function powerstrip(...argv: string[]) {
  return powerstripAt(admin, ...argv);
}

async function ls(): Promise<{ name: string; state: string; container?: { id: string }; error?: string }[]> {
  const result = await powerstrip("ls", "--json");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/**
 * `powerstrip logs --follow NAME` until what it printed on `stream` satisfies `done`, then stops
 * following (as Ctrl-C would) and returns that output.
 */
async function followLogs(
  name: string,
  done: (output: string) => boolean,
  stream: "stdout" | "stderr" = "stdout",
): Promise<string> {
  const stop = new AbortController();
  let output = "";
  const watch = (t: string) => {
    output += t;
    if (done(output)) stop.abort();
  };
  const following = run(["--admin", admin, "logs", "--follow", name], {
    stdout: { write: stream === "stdout" ? watch : () => {} },
    stderr: { write: stream === "stderr" ? watch : () => {} },
    env: {},
    signal: stop.signal,
  });
  expect(await withTimeout(following, 10_000, `logs --follow ${name}`)).toBe(0);
  return output;
}

/** The label the test adapter puts on every container it sees created, read from the engine. */
async function createThroughProxy(): Promise<string | undefined> {
  const name = uniqueName("through");
  succeeded(await runClient("docker", socket, ["create", ...containerFlags(name), BASE_IMAGE, "true"]));
  return (await docker.getContainer(name).inspect()).Config.Labels["io.powerstrip.seen"];
}

beforeAll(async () => {
  await buildAdapterImage(IMAGE, BOOTED);
});

afterAll(async () => {
  for (const d of daemons.splice(0)) d.child.kill("SIGKILL");
  await removeAdapterContainers(BOOTED);
  await removeAdapterContainers(LOADED);
  await removeLabelled();
  await removeImages(IMAGE);
  rmSync(dir, { recursive: true, force: true });
});

describe("powerstrip-proxy with image adapters", () => {
  let bootContainer: string;

  it("loads the boot list (POWERSTRIP_ADAPTERS) after it starts serving; hooks work", async () => {
    const daemon = await startWithBootList();
    // Serving at once, while the adapter comes up in the background.
    succeeded(await runClient("docker", socket, ["version", "--format", "{{.Server.APIVersion}}"]));
    expect((await ls()).map((a) => a.name)).toHaveLength(1);
    await said(daemon, new RegExp(`adapter ${BOOTED} ready \\(1 hook\\) from ${IMAGE}`), "the boot adapter");
    const [adapter] = await ls();
    expect(adapter).toMatchObject({ name: BOOTED, source: IMAGE, kind: "image", state: "ready" });
    bootContainer = adapter!.container!.id;
    expect(await createThroughProxy()).toBe(BOOTED);
    const saved = JSON.parse(readFileSync(join(stateDir, "adapters.json"), "utf8"));
    expect(saved).toEqual({
      version: 1,
      adapters: [{ name: BOOTED, source: "image", image: IMAGE }],
      unloadedBootImages: [],
    });
  });

  it("kill -9, restart on the same state dir: the same container, a fresh handshake, hooks work", async () => {
    await kill9(daemons.at(-1)!);
    const daemon = await startWithBootList();
    await said(daemon, new RegExp(`adapter ${BOOTED} ready`), "the adapter to be re-adopted");
    expect((await ls())[0]).toMatchObject({ name: BOOTED, state: "ready", container: { id: bootContainer } });
    expect(await createThroughProxy()).toBe(BOOTED);
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`io.powerstrip.adapter=${BOOTED}`] },
    });
    expect(containers.map((c) => c.Id)).toEqual([bootContainer]);
    // Two handshakes in the one container's log: the first start and the re-adoption.
    const twice = new RegExp(`handshake as ${BOOTED}[\\s\\S]*handshake as ${BOOTED}`);
    expect(await followLogs(BOOTED, (out) => twice.test(out))).toMatch(twice);
  });

  it("load, ls, inspect, logs, unload with the powerstrip command", async () => {
    const loaded = await powerstrip(
      "load",
      IMAGE,
      "--name",
      LOADED,
      "--env",
      "DENY_IMAGE=acme/denied",
      "--priority",
      "5",
    );
    expect(loaded).toEqual({ code: 0, stdout: `loaded ${LOADED} (1 hook) from ${IMAGE}\n`, stderr: "" });

    const table = await powerstrip("ls");
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME +SOURCE +STATE +HOOKS +SINCE$/);
    expect(table.stdout).toMatch(new RegExp(`\\n${LOADED} +${IMAGE} +ready +1 +`));

    const inspected = await powerstrip("inspect", LOADED);
    expect(inspected.stdout).toMatch(new RegExp(`Container: +powerstrip-${LOADED} \\([0-9a-f]{12}\\)\\n`));
    expect(inspected.stdout).toContain("Priority:        5\n");
    const info = JSON.parse((await powerstrip("inspect", LOADED, "--json")).stdout);

    const denied = await runClient("docker", socket, [
      "create",
      ...containerFlags(uniqueName("denied")),
      "acme/denied",
    ]);
    expect(denied.stderr).toContain(`${LOADED}: acme/denied is not allowed`);
    // The adapter's stderr shows the call it hooked (logs reach Docker asynchronously: follow them).
    expect(await followLogs(LOADED, (out) => out.includes("hooked POST"), "stderr")).toContain(
      "test adapter: hooked POST /containers/create\n",
    );

    expect(await powerstrip("unload", LOADED)).toEqual({
      code: 0,
      stdout: `unloaded ${LOADED}\n`,
      stderr: "",
    });
    await expect(docker.getContainer(info.container.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect((await ls()).map((a) => a.name)).toEqual([BOOTED]);
  });

  it("an unload of a boot-list adapter survives a restart", async () => {
    expect((await powerstrip("unload", BOOTED)).code).toBe(0);
    await kill9(daemons.at(-1)!);
    const daemon = await startWithBootList();
    expect(await ls()).toEqual([]);
    expect(
      await docker.listContainers({ all: true, filters: { label: [`io.powerstrip.adapter=${BOOTED}`] } }),
    ).toEqual([]);
    expect(JSON.parse(readFileSync(join(stateDir, "adapters.json"), "utf8")).unloadedBootImages).toEqual([
      IMAGE,
    ]);
    // Nothing happens in the background either.
    expect(daemon.stderr()).not.toMatch(/adapter /);
    // A load clears the memory: it is loaded again, and would be at the next start.
    expect((await powerstrip("load", IMAGE, "-q")).code).toBe(0);
    expect(JSON.parse(readFileSync(join(stateDir, "adapters.json"), "utf8")).unloadedBootImages).toEqual([]);
    expect((await powerstrip("unload", BOOTED)).code).toBe(0);
    await kill9(daemon);
  });

  it("an adapter that cannot come back is listed failed; the proxy serves", async () => {
    const missing = `localhost:${await freePort()}/pst-test/gone:1`;
    await killAll();
    const broken = join(dir, "broken-state");
    startDaemonWithState(broken, {
      version: 1,
      adapters: [{ name: "gone", source: "image", image: missing }],
    });
    const daemon = daemons.at(-1)!;
    await said(daemon, /listening on/, "the daemon to listen");
    await said(daemon, /adapter gone failed: cannot pull/, "the boot failure");
    expect(await ls()).toEqual([
      expect.objectContaining({
        name: "gone",
        state: "failed",
        error: expect.stringMatching(new RegExp(`^cannot pull ${missing}: .*connection refused`)),
      }),
    ]);
    succeeded(await runClient("docker", socket, ["version"]));
    await kill9(daemon);
  });

  it("refuses to start on a corrupt state file, with one line naming it, and leaves it as it was", async () => {
    await killAll();
    const broken = join(dir, "corrupt-state");
    startDaemonWithState(broken, '{"version": 1, "adapters": [');
    const daemon = daemons.at(-1)!;
    expect(await withTimeout(daemon.exited, 30_000, "the daemon to exit")).toBe(1);
    const lines = daemon.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^powerstrip-proxy: the adapter set in ${join(broken, "adapters.json")} is unusable: not JSON \\(.*\\) \\(fix or move the file; powerstrip does not overwrite it\\)$`,
      ),
    );
    expect(readFileSync(join(broken, "adapters.json"), "utf8")).toBe('{"version": 1, "adapters": [');
  });
});

/** The daemon on a state dir holding `content` as its adapters.json. */
function startDaemonWithState(state: string, content: unknown): void {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(state, "adapters.json"),
    typeof content === "string"
      ? content
      : JSON.stringify({ unloadedBootImages: [], ...(content as object) }),
  );
  daemons.push(startDaemon(["--listen", `unix://${socket}`, "--admin", admin, "--state-dir", state]));
}
