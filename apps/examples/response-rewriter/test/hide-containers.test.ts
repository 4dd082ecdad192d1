import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdapterHost } from "@powerstrip/adapter-host";
import { type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  DIRECT_SOCKET,
  type DockerTarget,
  RUN_LABEL,
  removeLabelled,
  runClient,
  startTestProxy,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hideContainers } from "../src/adapter.js";

// The proxy in-process, hide-containers served on its own socket and loaded by URL, and the real
// docker CLI through the proxy. Two running containers of this run: one carries the hiding label.
let dir: string;
let target: DockerTarget;
let host: AdapterHost;
let running: RunningAdapter;
const quiet = { info() {}, warn() {}, error() {} };
const shown = uniqueName("shown");
const hidden = uniqueName("hidden");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pst-example-"));
  let proxy: RunningProxy | undefined;
  target = await startTestProxy(async (options) => (proxy = await startProxy(options)));
  host = new AdapterHost(proxy!.hooks);
  running = await serve(hideContainers(), {
    socket: join(dir, "hide.sock"),
    handleSignals: false,
    logger: quiet,
  });
  await host.loadUrl({ url: running.address });
  succeeded(await target.docker(["run", "-d", ...containerFlags(shown), BASE_IMAGE, "sleep", "60"]));
  succeeded(
    await target.docker([
      "run",
      "-d",
      ...containerFlags(hidden),
      "--label",
      "io.powerstrip.hidden=true",
      BASE_IMAGE,
      "sleep",
      "60",
    ]),
  );
});

afterAll(async () => {
  await removeLabelled();
  await host?.close();
  await running?.close();
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Names `docker ps` lists for this run's containers. */
async function listed(extra: string[] = []): Promise<string[]> {
  const ps = succeeded(
    await target.docker(["ps", ...extra, "--filter", `label=${RUN_LABEL}`, "--format", "{{.Names}}"]),
  );
  return ps.stdout.toString().split("\n").filter(Boolean).sort();
}

describe("hide-containers through the proxy", () => {
  it("docker ps shows the other container and not the hidden one", async () => {
    expect(await listed()).toEqual([shown]);
    expect(await listed(["-a"])).toEqual([shown]);
  });

  it("docker ps -q leaves out the hidden container's id", async () => {
    const direct = succeeded(
      await runClient("docker", DIRECT_SOCKET, ["inspect", "--format", "{{.Id}}", hidden]),
    );
    const id = direct.stdout.toString().trim().slice(0, 12);
    const ps = succeeded(await target.docker(["ps", "-aq", "--no-trunc"]));
    expect(ps.stdout.toString()).not.toContain(id);
  });

  it("docker inspect of the hidden container fails as for one that does not exist", async () => {
    const viaProxy = await target.docker(["container", "inspect", hidden]);
    expect(viaProxy.code).toBe(1);
    expect(viaProxy.stderr.trim()).toBe(`Error response from daemon: No such container: ${hidden}`);
    const anyType = await target.docker(["inspect", hidden]);
    expect(anyType.code).toBe(1);
    expect(anyType.stderr).toContain(`No such object: ${hidden}`);
    expect(anyType.stdout.toString().trim()).toBe("[]");
  });

  it("docker inspect of the other container works", async () => {
    const inspect = succeeded(await target.docker(["inspect", "--format", "{{.Name}}", shown]));
    expect(inspect.stdout.toString().trim()).toBe(`/${shown}`);
  });

  it("Docker itself still has the hidden container: it is hidden, not protected", async () => {
    const direct = succeeded(
      await runClient("docker", DIRECT_SOCKET, ["inspect", "--format", "{{.State.Running}}", hidden]),
    );
    expect(direct.stdout.toString().trim()).toBe("true");
  });
});
