import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { validateAdapterInfo, validateAdapterList } from "@powerstrip/protocol";
import { HookRegistry } from "@powerstrip/proxy-core";
import { describe, expect, it, onTestFinished } from "vitest";
import { AdapterHost, type AdapterHostOptions } from "./adapter-host.js";
import { AdapterHostError } from "./errors.js";
import { type AdapterRecord, STATE_FILE, type StateFs, StateStore } from "./state-store.js";
import { type FakeImage, FakeRuntime } from "./testing/fake-runtime.js";
import { startTestAdapter, tempDir, v2Adapter } from "./testing/test-adapter.js";

const createHook = { method: "POST", path: "/containers/create", stage: "pre" } as const;
const LABELS: FakeImage = { declares: "labels", hooks: [createHook] };

interface Setup {
  runtime: FakeRuntime;
  registry: HookRegistry;
  host: AdapterHost;
  store: StateStore;
  stateDir: string;
  logged: string[];
}

async function setUp(
  options: {
    images?: Record<string, FakeImage>;
    stateDir?: string;
    fs?: StateFs;
    runtime?: FakeRuntime;
    host?: AdapterHostOptions;
  } = {},
): Promise<Setup> {
  const runtime = options.runtime ?? new FakeRuntime();
  for (const [name, image] of Object.entries(options.images ?? {})) runtime.local.set(name, { ...image });
  const stateDir = options.stateDir ?? tempDir("pst-state-");
  const store = await StateStore.open(stateDir, options.fs ? { fs: options.fs } : {});
  const registry = new HookRegistry();
  const logged: string[] = [];
  const host = new AdapterHost(registry, {
    runtime,
    store,
    socketTimeoutMs: 500,
    handshakeTimeoutMs: 1000,
    labels: { "io.powerstrip.test": "unit" },
    log: (line) => logged.push(line),
    ...options.host,
  });
  onTestFinished(async () => {
    await host.close();
    await runtime.shutdown();
  });
  return { runtime, registry, host, store, stateDir, logged };
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

function persisted(stateDir: string): unknown {
  const file = join(stateDir, STATE_FILE);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
}

/** Nothing of a failed load is left: no container, no socket directory, no adapter, no record. */
function expectNothingLeft(s: Setup): void {
  expect(s.runtime.containers.size).toBe(0);
  expect(existsSync(join(s.stateDir, "run")) ? readdirSync(join(s.stateDir, "run")) : []).toEqual([]);
  expect(s.host.list()).toEqual([]);
  expect(s.registry.list()).toEqual([]);
  expect(s.store.current.adapters).toEqual([]);
}

async function settle(until: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!until()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("AdapterHost: loading an image", () => {
  it("runs the container with its socket directory, environment and labels, handshakes, persists, registers", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS } });
    const info = await s.host.loadImage({
      image: "acme/labels:1",
      env: { LOG_LEVEL: "debug" },
      priority: 50,
    });

    const container = s.runtime.containerOf("labels")!;
    const socketDir = join(s.stateDir, "run", "labels");
    expect(container.spec).toEqual({
      name: "powerstrip-labels",
      image: "acme/labels:1",
      env: {
        LOG_LEVEL: "debug",
        POWERSTRIP_ADAPTER_SOCKET: "/run/powerstrip/adapter.sock",
        POWERSTRIP_ADAPTER_NAME: "labels",
      },
      labels: {
        "io.powerstrip.test": "unit",
        "io.powerstrip.adapter": "labels",
        "io.powerstrip.image": "acme/labels:1",
      },
      socketDir,
      network: "none",
    });
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
    expect(s.runtime.calls).toEqual(["ensureImage acme/labels:1", "create powerstrip-labels"]);

    expect(validateAdapterInfo(info).ok).toBe(true);
    expect(info).toMatchObject({
      name: "labels",
      source: "acme/labels:1",
      kind: "image",
      state: "ready",
      priority: 50,
      hooks: [createHook],
      container: { id: container.id, name: "powerstrip-labels" },
    });
    expect(s.registry.get("labels")?.priority).toBe(50);
    expect(s.registry.match("POST", "/v1.41/containers/create")?.pre[0]?.adapter.name).toBe("labels");
    expect(persisted(s.stateDir)).toEqual({
      version: 1,
      adapters: [
        {
          name: "labels",
          source: "image",
          image: "acme/labels:1",
          env: { LOG_LEVEL: "debug" },
          priority: 50,
        },
      ],
      unloadedBootImages: [],
    });
  });

  it("pulls a missing image first, relaying the engine's progress", async () => {
    const s = await setUp();
    const progress = [
      { status: "Pulling from acme/labels", id: "1" },
      { status: "Pulling fs layer", id: "a1b2" },
      { status: "Downloading", id: "a1b2", progress: "[=>  ] 1MB/2MB" },
      { status: "Pull complete", id: "a1b2" },
    ];
    s.runtime.pullable.set("localhost:5000/acme/labels:1", { image: LABELS, progress });
    const seen: unknown[] = [];
    const info = await s.host.loadImage({ image: "localhost:5000/acme/labels:1" }, (p) => seen.push(p));
    expect(seen).toEqual(progress);
    expect(info.state).toBe("ready");
  });

  it("an image that cannot be pulled: the engine's reason, naming the image, and nothing created", async () => {
    const s = await setUp();
    const error = await refusal(s.host.loadImage({ image: "localhost:1/acme/labels:1" }));
    expect(error.code).toBe("IMAGE_PULL_FAILED");
    expect(error.message).toMatch(/^cannot pull localhost:1\/acme\/labels:1: /);
    expect(s.runtime.calls).toEqual(["ensureImage localhost:1/acme/labels:1"]);
    expectNothingLeft(s);
    expect(persisted(s.stateDir)).toBeUndefined();
  });

  it("recreates the container under the name the adapter declares, which labels cannot change", async () => {
    const s = await setUp({ images: { "acme/label-injector:2": LABELS } });
    const info = await s.host.loadImage({ image: "acme/label-injector:2" });
    expect(info.name).toBe("labels");
    expect(s.runtime.calls).toEqual([
      "ensureImage acme/label-injector:2",
      "create powerstrip-label-injector",
      "remove powerstrip-label-injector (kill)",
      "create powerstrip-labels",
    ]);
    const container = s.runtime.containerOf("labels")!;
    expect(container.spec.env.POWERSTRIP_ADAPTER_NAME).toBe("labels");
    expect(s.runtime.containers.size).toBe(1);
    expect(existsSync(join(s.stateDir, "run", "label-injector"))).toBe(false);
  });

  it("--name wins: the handshake asks for it, and nothing is recreated", async () => {
    let asked: unknown;
    const s = await setUp({
      images: {
        "acme/labels:1": {
          ...LABELS,
          handshake: (body) => {
            asked = body.name;
            return { version: "2", name: body.name ?? "labels", hooks: [createHook] };
          },
        },
      },
    });
    const info = await s.host.loadImage({ image: "acme/labels:1", name: "labels-prod" });
    expect(asked).toBe("labels-prod");
    expect(info.name).toBe("labels-prod");
    expect(s.runtime.calls).toEqual(["ensureImage acme/labels:1", "create powerstrip-labels-prod"]);
  });

  it("a name clash, given or declared, leaves nothing behind", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS, "acme/labels:2": LABELS } });
    await s.host.loadImage({ image: "acme/labels:1" });
    const before = s.runtime.calls.length;

    const given = await refusal(s.host.loadImage({ image: "acme/labels:2", name: "labels" }));
    expect(given.code).toBe("NAME_TAKEN");
    expect(s.runtime.calls.length).toBe(before); // refused before anything was done

    const declared = await refusal(s.host.loadImage({ image: "acme/labels:2" }));
    expect(declared.code).toBe("NAME_TAKEN");
    expect(declared.message).toMatch(/an adapter named labels is already loaded \(from acme\/labels:1\)/);
    // Created under a free provisional name, handshaken, removed.
    expect(s.runtime.calls.slice(before)).toEqual([
      "ensureImage acme/labels:2",
      expect.stringMatching(/^create powerstrip-labels-[0-9a-f]{6}$/),
      expect.stringMatching(/^remove powerstrip-labels-[0-9a-f]{6} \(kill\)$/),
    ]);
    expect(s.runtime.containers.size).toBe(1);
    expect(await fsp.readdir(join(s.stateDir, "run"))).toEqual(["labels"]);
    expect(s.host.list().map((a) => a.name)).toEqual(["labels"]);
    expect(s.store.current.adapters.map((a) => a.name)).toEqual(["labels"]);
  });

  it("a container that exits at start: its exit code and last log lines, and it is removed", async () => {
    const s = await setUp({
      images: {
        "acme/broken:1": {
          run: { exit: 3 },
          logs: [
            { stream: "stdout", text: "starting\n" },
            { stream: "stderr", text: "fatal: no config\n" },
          ],
        },
      },
    });
    const error = await refusal(s.host.loadImage({ image: "acme/broken:1" }));
    expect(error.code).toBe("ADAPTER_START_FAILED");
    expect(error.message).toBe(
      "adapter acme/broken:1 (container powerstrip-broken) exited with code 3 before it listened on its socket; its last log lines: starting | fatal: no config",
    );
    expect(s.runtime.calls).toEqual([
      "ensureImage acme/broken:1",
      "create powerstrip-broken",
      "remove powerstrip-broken (kill)",
    ]);
    expectNothingLeft(s);
  });

  it("a socket that never appears: the deadline, what to check, and it is removed", async () => {
    const s = await setUp({ images: { "acme/silent:1": { run: "silent" } } });
    const started = Date.now();
    const error = await refusal(s.host.loadImage({ image: "acme/silent:1" }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.code).toBe("ADAPTER_START_FAILED");
    expect(error.message).toBe(
      "adapter acme/silent:1 (container powerstrip-silent) did not listen on /run/powerstrip/adapter.sock within 500 ms (does its process call serve() from @powerstrip/adapter-sdk, or listen on $POWERSTRIP_ADAPTER_SOCKET?); it logged nothing",
    );
    expectNothingLeft(s);
  });

  it("a refused handshake: the adapter's message, and it is removed", async () => {
    const s = await setUp({
      images: {
        "acme/picky:1": {
          handshake: () => ({ status: 400, body: { message: "picky: config.label is required" } }),
        },
      },
    });
    const error = await refusal(s.host.loadImage({ image: "acme/picky:1" }));
    expect(error.code).toBe("HANDSHAKE_FAILED");
    expect(error.message).toBe(
      "handshake with acme/picky:1 failed: answered HTTP 400: picky: config.label is required",
    );
    expectNothingLeft(s);
  });

  it("an unwritable state directory rolls the load back: the container goes, nothing is registered", async () => {
    const full = Object.assign(new Error("no space"), { code: "ENOSPC" });
    const s = await setUp({
      images: { "acme/labels:1": LABELS },
      fs: { ...fsp, open: (async () => Promise.reject(full)) as typeof fsp.open },
    });
    const error = await refusal(s.host.loadImage({ image: "acme/labels:1" }));
    expect(error.code).toBe("STATE_WRITE_FAILED");
    expect(error.message).toMatch(
      /^cannot save the adapter set to .*adapters\.json: ENOSPC; nothing was changed$/,
    );
    expect(s.runtime.calls).toEqual([
      "ensureImage acme/labels:1",
      "create powerstrip-labels",
      "remove powerstrip-labels (kill)",
    ]);
    expectNothingLeft(s);
    expect(persisted(s.stateDir)).toBeUndefined();
  });

  it("refuses env or network with a URL, and a legacy image", async () => {
    const s = await setUp();
    expect((await refusal(s.host.load({ url: "unix:///x.sock", env: { A: "1" } }))).message).toMatch(
      /env: only for image adapters/,
    );
    expect((await refusal(s.host.load({ image: "a/b", legacy: true, hooks: ["pre:GET /x"] }))).code).toBe(
      "INVALID_REQUEST",
    );
    expect((await refusal(s.host.load({ image: "a/b", env: { "BAD-KEY": "1" } }))).message).toMatch(/env/);
  });
});

describe("AdapterHost: unloading, reloading and logs of image adapters", () => {
  it("unload saves the set first, then deregisters, then stops and removes the container", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS } });
    await s.host.loadImage({ image: "acme/labels:1" });
    const id = s.runtime.containerOf("labels")!.id;
    const order: string[] = [];
    const unregister = s.registry.unregister.bind(s.registry);
    s.registry.unregister = async (name) => {
      order.push(`unregister (set saved: ${s.store.current.adapters.length === 0})`);
      return unregister(name);
    };
    const remove = s.runtime.stopAndRemove.bind(s.runtime);
    s.runtime.stopAndRemove = async (cid, options) => {
      order.push(`remove (registered: ${s.registry.get("labels") !== undefined})`);
      return remove(cid, options);
    };
    await s.host.unload("labels");
    expect(order).toEqual(["unregister (set saved: true)", "remove (registered: false)"]);
    expect(s.runtime.containers.has(id)).toBe(false);
    expect(s.runtime.calls.at(-1)).toBe("remove powerstrip-labels"); // gracefully: SIGTERM first
    expect(existsSync(join(s.stateDir, "run", "labels"))).toBe(false);
    expect(s.host.list()).toEqual([]);
    expect(persisted(s.stateDir)).toEqual({ version: 1, adapters: [], unloadedBootImages: [] });
  });

  it("unload with an unwritable state directory changes nothing", async () => {
    const dir = tempDir("pst-state-");
    let readOnly = false;
    const fs: StateFs = {
      ...fsp,
      rename: (async (from: string, to: string) =>
        readOnly
          ? Promise.reject(Object.assign(new Error("read-only"), { code: "EROFS" }))
          : fsp.rename(from, to)) as typeof fsp.rename,
    };
    const s = await setUp({ images: { "acme/labels:1": LABELS }, stateDir: dir, fs });
    await s.host.loadImage({ image: "acme/labels:1" });
    const before = readFileSync(join(dir, STATE_FILE), "utf8");
    readOnly = true;
    const error = await refusal(s.host.unload("labels"));
    expect(error.code).toBe("STATE_WRITE_FAILED");
    expect(error.message).toMatch(/EROFS; nothing was changed$/);
    expect(s.host.inspect("labels").state).toBe("ready");
    expect(s.registry.get("labels")).toBeDefined();
    expect(s.runtime.containers.size).toBe(1);
    expect(readFileSync(join(dir, STATE_FILE), "utf8")).toBe(before);
  });

  it("reload runs a new container with the recorded options; a failed reload leaves it failed, still in the set", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS } });
    const image = s.runtime.local.get("acme/labels:1")!;
    await s.host.loadImage({ image: "acme/labels:1", env: { A: "1" }, priority: 7 });
    const first = s.runtime.containerOf("labels")!.id;
    const info = await s.host.reload("labels");
    const second = s.runtime.containerOf("labels")!;
    expect(second.id).not.toBe(first);
    expect(second.spec.env.A).toBe("1");
    expect(info).toMatchObject({ state: "ready", priority: 7, container: { id: second.id } });
    expect(s.registry.get("labels")?.priority).toBe(7);

    image.run = { exit: 1 };
    const error = await refusal(s.host.reload("labels"));
    expect(error.code).toBe("ADAPTER_START_FAILED");
    expect(s.host.inspect("labels")).toMatchObject({ state: "failed", error: error.message, hooks: [] });
    expect(s.registry.get("labels")).toBeUndefined();
    expect(s.store.current.adapters.map((a) => a.name)).toEqual(["labels"]);
    image.run = "serve";
    expect((await s.host.reload("labels")).state).toBe("ready");
  });

  it("logs are the container's; a URL adapter has none", async () => {
    const s = await setUp({
      images: { "acme/labels:1": { ...LABELS, logs: [{ stream: "stderr", text: "hello\n" }] } },
    });
    await s.host.loadImage({ image: "acme/labels:1" });
    const chunks = [];
    for await (const chunk of await s.host.logs("labels")) chunks.push(chunk);
    expect(chunks).toEqual([{ stream: "stderr", text: "hello\n" }]);

    const adapter = await v2Adapter({ name: "by-url", hooks: [] });
    await s.host.loadUrl({ url: adapter.url });
    const error = await refusal(s.host.logs("by-url"));
    expect(error.code).toBe("NO_CONTAINER");
    expect((await refusal(s.host.logs("nope"))).code).toBe("NOT_FOUND");
  });

  it("close() leaves containers running and the set as it is, for the next start to re-adopt", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS } });
    await s.host.loadImage({ image: "acme/labels:1" });
    await s.host.close();
    expect(s.registry.list()).toEqual([]);
    expect(s.runtime.containerOf("labels")?.running).toBe(true);
    expect(s.store.current.adapters).toHaveLength(1);
    expect(s.runtime.watchers).toBe(0);
  });
});

describe("AdapterHost: boot", () => {
  const record: AdapterRecord = { name: "labels", source: "image", image: "acme/labels:1", priority: 5 };

  async function seeded(adapters: AdapterRecord[], unloadedBootImages: string[] = []): Promise<string> {
    const dir = tempDir("pst-state-");
    writeFileSync(join(dir, STATE_FILE), JSON.stringify({ version: 1, adapters, unloadedBootImages }));
    return dir;
  }

  it("re-adopts a running container (same container, a fresh handshake under its name)", async () => {
    const runtime = new FakeRuntime();
    const first = await setUp({ runtime, images: { "acme/labels:1": LABELS } });
    await first.host.loadImage({ image: "acme/labels:1", priority: 5 });
    const id = runtime.containerOf("labels")!.id;
    await first.host.close(); // the proxy stops; the container keeps running

    const handshakes: unknown[] = [];
    runtime.local.get("acme/labels:1")!.handshake = (body) => {
      handshakes.push(body.name);
      return { version: "2", name: body.name, hooks: [createHook] };
    };
    runtime.calls.length = 0;
    const second = await setUp({ runtime, stateDir: first.stateDir });
    await second.host.boot();
    expect(runtime.calls).toEqual([]); // nothing created, started or removed
    expect(handshakes).toEqual(["labels"]);
    expect(second.host.inspect("labels")).toMatchObject({ state: "ready", priority: 5, container: { id } });
    expect(second.registry.get("labels")).toBeDefined();
    expect(second.logged).toEqual(["adapter labels ready (1 hook) from acme/labels:1"]);
  });

  it("starts a stopped container, and creates a missing one", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/labels:1", { ...LABELS });
    runtime.local.set("acme/audit:1", { declares: "audit" });
    const first = await setUp({ runtime });
    await first.host.loadImage({ image: "acme/labels:1" });
    await first.host.loadImage({ image: "acme/audit:1" });
    await first.host.close();
    const labelsId = runtime.containerOf("labels")!.id;
    await runtime.crash(labelsId, 0);
    await runtime.stopAndRemove(runtime.containerOf("audit")!.id);
    runtime.calls.length = 0;

    const second = await setUp({ runtime, stateDir: first.stateDir });
    await second.host.boot();
    expect(runtime.calls).toEqual([
      "start powerstrip-labels",
      "ensureImage acme/audit:1",
      "create powerstrip-audit",
    ]);
    expect(second.host.list().map((a) => [a.name, a.state])).toEqual([
      ["audit", "ready"],
      ["labels", "ready"],
    ]);
    expect(second.host.inspect("labels").container?.id).toBe(labelsId);
  });

  it("an adapter that fails to come back is listed failed with its error; the others work", async () => {
    const url = await v2Adapter({ name: "by-url", hooks: [createHook] });
    const dir = await seeded([
      record,
      { name: "gone", source: "url", url: "unix:///nonexistent/powerstrip-test.sock" },
      { name: "by-url", source: "url", url: url.url },
    ]);
    const s = await setUp({ stateDir: dir }); // acme/labels:1 is not here and cannot be pulled
    await s.host.boot();
    const list = s.host.list();
    expect(validateAdapterList(list).ok).toBe(true);
    expect(list.map((a) => [a.name, a.state, a.error])).toEqual([
      ["labels", "failed", 'cannot pull acme/labels:1: Get "http://acme/v2/": connection refused'],
      ["by-url", "ready", undefined],
      [
        "gone",
        "failed",
        "handshake with unix:///nonexistent/powerstrip-test.sock failed: cannot reach it: ENOENT",
      ],
    ]);
    expect(s.registry.list().map((a) => a.name)).toEqual(["by-url"]);
    // Still wanted: a later restart tries again.
    expect(s.store.current.adapters).toHaveLength(3);
    // And a failed one can be unloaded.
    await s.host.unload("gone");
    expect(s.store.current.adapters.map((a) => a.name)).toEqual(["labels", "by-url"]);
  });

  it("loads boot-list images the set lacks, persists them, and remembers an unload across restarts", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/labels:1", { ...LABELS });
    runtime.local.set("acme/audit", { declares: "audit" });
    const boot = ["acme/labels:1", "acme/audit"];
    const first = await setUp({ runtime });
    await first.host.boot(boot);
    expect(first.host.list().map((a) => a.name)).toEqual(["audit", "labels"]);
    expect(first.store.current.adapters.map((a) => a.image).sort()).toEqual(["acme/audit", "acme/labels:1"]);

    await first.host.unload("audit");
    expect(first.store.current.unloadedBootImages).toEqual(["acme/audit"]);
    await first.host.close();

    runtime.calls.length = 0;
    const second = await setUp({ runtime, stateDir: first.stateDir });
    await second.host.boot(boot);
    expect(second.host.list().map((a) => a.name)).toEqual(["labels"]);
    expect(runtime.calls).toEqual([]); // labels re-adopted, audit not loaded

    // An explicit load clears the tombstone.
    await second.host.loadImage({ image: "acme/audit" });
    expect(second.store.current.unloadedBootImages).toEqual([]);
  });

  it("a boot-list image that fails is listed failed; reload loads it once it can", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/flaky:1", { declares: "flaky-one", run: { exit: 2 } });
    const s = await setUp({ runtime });
    await s.host.boot(["acme/flaky:1"]);
    expect(s.host.list()).toEqual([
      expect.objectContaining({
        name: "flaky",
        state: "failed",
        error: expect.stringMatching(/exited with code 2/),
      }),
    ]);
    expect(s.store.current.adapters).toEqual([]);
    runtime.local.get("acme/flaky:1")!.run = "serve";
    expect(await s.host.reload("flaky")).toMatchObject({ name: "flaky-one", state: "ready" });
    expect(s.host.list().map((a) => a.name)).toEqual(["flaky-one"]);
    expect(s.store.current.adapters.map((a) => a.name)).toEqual(["flaky-one"]);
  });

  it("persists URL and legacy adapters, and handshakes (or probes) them again at boot", async () => {
    const byUrl = await v2Adapter({ name: "by-url", hooks: [createHook] });
    const old = await startTestAdapter(() => ({}), { tcp: true });
    const first = await setUp();
    await first.host.loadUrl({ url: byUrl.url, priority: 9 });
    await first.host.loadUrl({
      url: old.url,
      legacy: true,
      name: "old",
      hooks: ["pre:POST /*/containers/create"],
    });
    expect(first.store.current.adapters).toEqual([
      { name: "by-url", source: "url", url: byUrl.url, priority: 9 },
      { name: "old", source: "url", url: old.url, legacy: true, hooks: ["pre:POST /*/containers/create"] },
    ]);
    await first.host.close();

    const second = await setUp({ stateDir: first.stateDir });
    await second.host.boot();
    expect(second.host.list().map((a) => [a.name, a.kind, a.state, a.priority])).toEqual([
      ["by-url", "url", "ready", 9],
      ["old", "legacy", "ready", 1000],
    ]);
    expect(byUrl.received.at(-1)).toMatchObject({ path: "/powerstrip/handshake", body: { name: "by-url" } });
    expect(second.host.inspect("old").hooks).toEqual([
      { method: "POST", path: "/*/containers/create", stage: "pre" },
    ]);
    expect(second.registry.get("old")?.protocolVersion).toBe("1");
  });

  it("does not block: adapters are listed loading while they come up", async () => {
    const dir = await seeded([record]);
    const s = await setUp({ stateDir: dir, images: { "acme/labels:1": LABELS } });
    const booting = s.host.boot();
    expect(s.host.list()).toEqual([expect.objectContaining({ name: "labels", state: "loading" })]);
    await booting;
    expect(s.host.inspect("labels").state).toBe("ready");
  });
});

describe("AdapterHost: watching adapter containers", () => {
  it("a container that dies is failed with its exit code, its hooks under its failure policy; back when Docker restarts it", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS } });
    await s.host.loadImage({ image: "acme/labels:1" });
    const container = s.runtime.containerOf("labels")!;
    const firstTransport = s.registry.get("labels")!.transport;

    await s.runtime.crash(container.id, 137);
    expect(s.host.inspect("labels")).toMatchObject({
      state: "failed",
      error:
        "its container powerstrip-labels exited with code 137; back when Docker restarts it, or on powerstrip reload labels",
      hooks: [createHook],
    });
    expect(s.registry.get("labels")).toBeDefined(); // its failure policy applies meanwhile

    await s.runtime.restart(container.id);
    await settle(() => s.host.inspect("labels").state === "ready", "the adapter to come back");
    expect(s.registry.get("labels")!.transport).not.toBe(firstTransport);
    expect(s.host.inspect("labels").container?.id).toBe(container.id);
    expect(s.logged).toEqual([
      "adapter labels failed: its container powerstrip-labels exited with code 137; back when Docker restarts it, or on powerstrip reload labels",
      "adapter labels is back (1 hook)",
    ]);
  });

  it("a container removed behind Powerstrip's back is failed; reload creates it again", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS } });
    await s.host.loadImage({ image: "acme/labels:1" });
    await s.runtime.stopAndRemove(s.runtime.containerOf("labels")!.id);
    expect(s.host.inspect("labels")).toMatchObject({
      state: "failed",
      error: "its container was removed outside Powerstrip; powerstrip reload labels creates it again",
    });
    expect(s.host.inspect("labels").container).toBeUndefined();
    expect((await s.host.reload("labels")).state).toBe("ready");
    expect(s.runtime.containers.size).toBe(1);
  });

  it("ignores the starts and stops of its own loads and unloads", async () => {
    const s = await setUp({ images: { "acme/labels:1": LABELS } });
    await s.host.loadImage({ image: "acme/labels:1" });
    await s.host.unload("labels");
    expect(s.logged).toEqual([]);
  });
});
