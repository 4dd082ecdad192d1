import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdapterHost } from "@powerstrip/adapter-host";
import { type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  removeLabelled,
  startTestProxy,
  succeeded,
  TEST_LABEL,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labelInjector } from "../src/adapter.js";

// The proxy in-process, the adapter served on its own socket and loaded by URL, and the real
// docker CLI through the proxy: what `powerstrip load --url` sets up.
let dir: string;
let target: DockerTarget;
let host: AdapterHost;
let running: RunningAdapter;
const quiet = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pst-example-"));
  let proxy: RunningProxy | undefined;
  target = await startTestProxy(async (options) => (proxy = await startProxy(options)));
  host = new AdapterHost(proxy!.hooks);
  const adapter = labelInjector({ labels: { "io.powerstrip.injected": "true", team: "web" } });
  running = await serve(adapter, {
    socket: join(dir, "label-injector.sock"),
    handleSignals: false,
    logger: quiet,
  });
  await host.loadUrl({ url: running.address });
});

afterAll(async () => {
  await removeLabelled();
  await host?.close();
  await running?.close();
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

async function labelsOf(name: string): Promise<Record<string, string>> {
  const inspect = succeeded(await target.docker(["inspect", "--format", "{{json .Config.Labels}}", name]));
  return JSON.parse(inspect.stdout.toString()) as Record<string, string>;
}

describe("label-injector through the proxy", () => {
  it("docker run gets the injected labels next to the client's own", async () => {
    const name = uniqueName("labelled");
    succeeded(
      await target.docker(["run", ...containerFlags(name), "--label", "owner=alice", BASE_IMAGE, "true"]),
    );
    expect(await labelsOf(name)).toMatchObject({
      owner: "alice",
      team: "web",
      "io.powerstrip.injected": "true",
      [TEST_LABEL]: expect.any(String),
    });
  });

  it("the operator's value wins over a client's label of the same key", async () => {
    const name = uniqueName("relabelled");
    succeeded(
      await target.docker(["create", ...containerFlags(name), "--label", "team=ops", BASE_IMAGE, "true"]),
    );
    expect(await labelsOf(name)).toMatchObject({ team: "web" });
  });

  it("docker ps --filter finds containers by the injected label", async () => {
    const name = uniqueName("filtered");
    succeeded(await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]));
    const ps = succeeded(
      await target.docker([
        "ps",
        "-a",
        "--filter",
        "label=team=web",
        "--filter",
        `name=${name}`,
        "--format",
        "{{.Names}}",
      ]),
    );
    expect(ps.stdout.toString().trim()).toBe(name);
  });
});
