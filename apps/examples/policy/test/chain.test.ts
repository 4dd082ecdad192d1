import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdapterHost } from "@powerstrip/adapter-host";
import {
  type Adapter,
  defineAdapter,
  type HookHandlers,
  type PreHookContext,
  type RunningAdapter,
  serve,
} from "@powerstrip/adapter-sdk";
import { labelInjector } from "@powerstrip/example-label-injector";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  RUN_LABEL,
  removeLabelled,
  startTestProxy,
  succeeded,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { policy } from "../src/adapter.js";

// Two examples in one chain: label-injector (priority 100) rewrites container creates, policy
// (priority 9000) judges them. Each adapter's pre-hooks are wrapped to record the order in which
// the proxy calls them and the labels each one sees.

interface Seen {
  adapter: string;
  hook: string;
  labels: Record<string, string> | undefined;
}

let seen: Seen[] = [];

/** The same adapter, its pre-hooks recording each call before doing their work. */
function recording(adapter: Adapter): Adapter {
  const hooks = Object.fromEntries(
    Object.entries(adapter.definition.hooks).map(([key, handlers]: [string, HookHandlers]) => {
      const { pre } = handlers;
      if (pre === undefined) return [key, handlers];
      return [
        key,
        {
          ...handlers,
          pre(ctx: PreHookContext) {
            seen.push({ adapter: ctx.adapter, hook: ctx.hook, labels: ctx.body?.Labels ?? undefined });
            return pre(ctx);
          },
        },
      ];
    }),
  );
  return defineAdapter({ ...adapter.definition, hooks } as Parameters<typeof defineAdapter>[0]);
}

let dir: string;
let target: DockerTarget;
let host: AdapterHost;
const served: RunningAdapter[] = [];
const quiet = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pst-example-"));
  let proxy: RunningProxy | undefined;
  target = await startTestProxy(async (options) => (proxy = await startProxy(options)));
  host = new AdapterHost(proxy!.hooks);
  const adapters = {
    "policy.sock": recording(policy()),
    "label-injector.sock": recording(labelInjector({ labels: { "io.powerstrip.injected": "true" } })),
  };
  for (const [socket, adapter] of Object.entries(adapters)) {
    const running = await serve(adapter, { socket: join(dir, socket), handleSignals: false, logger: quiet });
    served.push(running);
    await host.loadUrl({ url: running.address });
  }
});

beforeEach(() => {
  seen = [];
});

afterAll(async () => {
  await removeLabelled();
  await host?.close();
  await Promise.all(served.map((running) => running.close()));
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

const createHook = "POST /containers/create";

describe("label-injector + policy through the proxy", () => {
  it("are listed in pre-hook order: priority, then name", () => {
    expect(host.list().map((a) => [a.name, a.priority])).toEqual([
      ["label-injector", 100],
      ["policy", 9000],
    ]);
  });

  it("an allowed container: the injector runs first, and the policy judges the labelled request", async () => {
    const volume = uniqueName("vol");
    succeeded(await target.docker(["volume", "create", "--label", RUN_LABEL, volume]));
    seen = [];
    const name = uniqueName("chained");
    succeeded(
      await target.docker([
        "run",
        "--rm",
        ...containerFlags(name),
        "--label",
        "owner=alice",
        "-v",
        `${volume}:/x`,
        BASE_IMAGE,
        "true",
      ]),
    );
    const creates = seen.filter((s) => s.hook === createHook);
    expect(creates.map((s) => s.adapter)).toEqual(["label-injector", "policy"]);
    expect(creates[0]!.labels).not.toHaveProperty("io.powerstrip.injected");
    expect(creates[1]!.labels).toMatchObject({ owner: "alice", "io.powerstrip.injected": "true" });
  });

  it("a denied container: the injector ran, the policy said no, Docker created nothing", async () => {
    const name = uniqueName("denied");
    const result = await target.docker([
      "create",
      ...containerFlags(name),
      "--privileged",
      BASE_IMAGE,
      "true",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      "Error response from daemon: policy: privileged containers are not allowed",
    );
    expect(seen.map((s) => s.adapter)).toEqual(["label-injector", "policy"]);
    const ps = succeeded(await target.docker(["ps", "-aq", "--filter", `name=^/${name}$`]));
    expect(ps.stdout.toString().trim()).toBe("");
  });

  it("with the policy loaded first (--priority 50), a denial stops the chain before the injector", async () => {
    const policySocket = served[0]!.address;
    await host.unload("policy");
    await host.loadUrl({ url: policySocket, priority: 50 });
    expect(host.list().map((a) => a.name)).toEqual(["policy", "label-injector"]);

    const denied = await target.docker([
      "create",
      ...containerFlags(uniqueName("denied")),
      "--privileged",
      BASE_IMAGE,
      "true",
    ]);
    expect(denied.code).toBe(1);
    expect(seen.map((s) => s.adapter)).toEqual(["policy"]);

    seen = [];
    succeeded(await target.docker(["create", ...containerFlags(uniqueName("allowed")), BASE_IMAGE, "true"]));
    expect(seen.map((s) => s.adapter)).toEqual(["policy", "label-injector"]);
    // First in line, the policy saw the client's labels only.
    expect(seen[0]!.labels).not.toHaveProperty("io.powerstrip.injected");
  });
});
