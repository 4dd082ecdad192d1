import { validateAdapterInfo } from "@powerstrip/protocol";
import { HookRegistry } from "@powerstrip/proxy-core";
import { describe, expect, it, onTestFinished } from "vitest";
import { AdapterHost } from "./adapter-host.js";
import { parseBootList } from "./boot-list.js";
import { AdapterHostError } from "./errors.js";
import { StateStore } from "./state-store.js";
import { type FakeImage, FakeRuntime } from "./testing/fake-runtime.js";
import { tempDir, v2Adapter } from "./testing/test-adapter.js";

// What the operator grants an adapter, beyond what its image or handshake asks for: credential
// headers (`--allow-credentials`) and, for loader images, the engine socket (`--allow-docker`).
// Both are kept in the persisted set, so a restart grants no more and no less.

const pullHook = { method: "POST", path: "/images/create", stage: "pre" } as const;
const SET: FakeImage = { declares: "compose-set", hooks: [], loader: true };
const MIRROR: FakeImage = {
  declares: "mirror",
  hooks: [pullHook],
  handshake: (body) => ({ version: "2", name: body.name ?? "mirror", hooks: [pullHook], credentials: true }),
};

async function setUp(runtime = new FakeRuntime(), stateDir = tempDir("pst-state-")) {
  const store = await StateStore.open(stateDir);
  const registry = new HookRegistry();
  const logged: string[] = [];
  const host = new AdapterHost(registry, {
    runtime,
    store,
    socketTimeoutMs: 500,
    handshakeTimeoutMs: 1000,
    log: (line, level) => logged.push(`${level}: ${line}`),
  });
  onTestFinished(async () => {
    await host.close();
    await runtime.shutdown();
  });
  return { runtime, registry, host, store, stateDir, logged };
}

describe("credentials", () => {
  it.each([
    [true, false, "withheld", false],
    [true, true, "sent", true],
    [false, true, "none", false],
    [false, false, "none", false],
  ] as const)("declared %s, allowed %s: %s", async (declared, allowed, shown, receives) => {
    const adapter = await v2Adapter({
      name: "mirror",
      hooks: [pullHook],
      ...(declared ? { credentials: true } : {}),
    });
    const s = await setUp();
    const info = await s.host.load({ url: adapter.url, ...(allowed ? { allowCredentials: true } : {}) });
    expect(validateAdapterInfo(info).ok).toBe(true);
    expect(info.credentials).toBe(shown);
    expect(s.registry.get("mirror")?.receivesCredentials === true).toBe(receives);
    expect(s.store.current.adapters[0]?.allowCredentials).toBe(allowed ? true : undefined);
  });

  it("survive a restart, and a reload, from the persisted set", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/mirror", { ...MIRROR });
    const first = await setUp(runtime);
    expect((await first.host.load({ image: "acme/mirror", allowCredentials: true })).credentials).toBe(
      "sent",
    );
    await first.host.close();

    const second = await setUp(runtime, first.stateDir);
    await second.host.boot();
    expect(second.host.inspect("mirror").credentials).toBe("sent");
    expect(second.registry.get("mirror")?.receivesCredentials).toBe(true);
    expect((await second.host.reload("mirror")).credentials).toBe("sent");
    expect(second.registry.get("mirror")?.receivesCredentials).toBe(true);
  });

  it("follow the handshake: an adapter that stops asking stops receiving", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/mirror", { ...MIRROR });
    const s = await setUp(runtime);
    await s.host.load({ image: "acme/mirror", allowCredentials: true });
    runtime.local.get("acme/mirror")!.handshake = (body) => ({
      version: "2",
      name: body.name,
      hooks: [pullHook],
    });
    expect((await s.host.reload("mirror")).credentials).toBe("none");
    expect(s.registry.get("mirror")?.receivesCredentials).toBeUndefined();
  });

  it("legacy adapters get none (the 2015 messages carry no headers), and asking is refused", async () => {
    const legacy = await v2Adapter({ name: "x", hooks: [] });
    const s = await setUp();
    const load = { url: legacy.url, name: "old", legacy: true, hooks: ["pre:POST /*/containers/create"] };
    await expect(s.host.load({ ...load, allowCredentials: true })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
      message:
        "invalid load request: allowCredentials: not for legacy adapters (the 2015 messages carry no headers, so there is nothing to allow)",
    });
    expect(s.host.list()).toEqual([]);
    expect((await s.host.load(load)).credentials).toBe("none");
  });
});

describe("the engine socket for loader images", () => {
  it("is refused without --allow-docker, with one line saying so, leaving nothing behind", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/set", { ...SET });
    const s = await setUp(runtime);
    const error = await s.host.load({ image: "acme/set" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterHostError);
    expect(error).toMatchObject({
      code: "NOT_ALLOWED",
      message:
        "acme/set is a loader image (label io.powerstrip.loader=true): it runs containers through the Docker engine's socket, which gives it control of this host; add --allow-docker to grant that",
    });
    expect(runtime.containers.size).toBe(0);
    expect(s.host.list()).toEqual([]);
    expect(s.store.current.adapters).toEqual([]);
  });

  it("is given with --allow-docker, and the grant is kept for reloads and restarts", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/set", { ...SET });
    const first = await setUp(runtime);
    expect(await first.host.load({ image: "acme/set", allowDocker: true })).toMatchObject({
      state: "ready",
      dockerSocket: true,
    });
    expect(runtime.containerOf("compose-set")!.spec.allowDocker).toBe(true);
    expect(first.store.current.adapters).toEqual([
      { name: "compose-set", source: "image", image: "acme/set", allowDocker: true },
    ]);
    await first.host.reload("compose-set");
    expect(runtime.containerOf("compose-set")!.spec.allowDocker).toBe(true);
    await first.host.close();

    // The container is gone when the proxy comes back: it is created again, with the socket.
    await runtime.stopAndRemove(runtime.containerOf("compose-set")!.id);
    const second = await setUp(runtime, first.stateDir);
    await second.host.boot();
    expect(second.host.inspect("compose-set")).toMatchObject({ state: "ready", dockerSocket: true });
    expect(runtime.containerOf("compose-set")!.spec.allowDocker).toBe(true);
  });

  it("is not an option for an adapter Powerstrip does not run", async () => {
    const s = await setUp();
    await expect(s.host.load({ url: "unix:///run/x.sock", allowDocker: true })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
      message:
        "invalid load request: allowDocker: only for image adapters (Powerstrip does not run an adapter loaded by URL)",
    });
  });

  it("comes from the boot list entry: granted where written, refused where not", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/set", { ...SET });
    runtime.local.set("acme/other-set", { ...SET, declares: "other-set" });
    const s = await setUp(runtime);
    await s.host.boot(parseBootList("acme/set --allow-docker acme/other-set"));
    expect(s.host.list().map((a) => [a.name, a.state, a.error])).toEqual([
      ["compose-set", "ready", undefined],
      [
        "other-set",
        "failed",
        "acme/other-set is a loader image (label io.powerstrip.loader=true): it runs containers through the Docker engine's socket, which gives it control of this host; add --allow-docker to grant that",
      ],
    ]);
    expect(s.store.current.adapters).toEqual([
      { name: "compose-set", source: "image", image: "acme/set", allowDocker: true },
    ]);
  });
});

describe("the boot list is the operator's current word on the images it names", () => {
  it("revokes a grant the list no longer writes, at the next start, saying so", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/mirror", { ...MIRROR });
    const first = await setUp(runtime);
    await first.host.boot(parseBootList("acme/mirror --allow-credentials"));
    expect(first.host.inspect("mirror").credentials).toBe("sent");
    await first.host.close();

    const second = await setUp(runtime, first.stateDir);
    await second.host.boot(parseBootList("acme/mirror"));
    expect(second.host.inspect("mirror")).toMatchObject({ state: "ready", credentials: "withheld" });
    expect(second.registry.get("mirror")?.receivesCredentials).toBeUndefined();
    expect(second.store.current.adapters).toEqual([
      { name: "mirror", source: "image", image: "acme/mirror" },
    ]);
    expect(second.logged).toContain(
      "warn: adapter mirror: the boot list (--adapters) names acme/mirror, and its grants follow the list: --allow-credentials revoked (the list does not write it)",
    );
  });

  it("revokes it from an adapter loaded by hand with the grant, when the list names its image", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/mirror", { ...MIRROR });
    const first = await setUp(runtime);
    await first.host.load({ image: "acme/mirror", allowCredentials: true });
    await first.host.close();
    const second = await setUp(runtime, first.stateDir);
    await second.host.boot(parseBootList("docker.io/acme/mirror:latest"));
    expect(second.host.inspect("mirror").credentials).toBe("withheld");
  });

  it("grants what the list adds, and an --allow-docker change recreates the container", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/set", { ...SET });
    const first = await setUp(runtime);
    await first.host.boot(parseBootList("acme/set --allow-docker"));
    const before = runtime.containerOf("compose-set")!.id;
    await first.host.close();

    // Revoked: the running container, which holds the socket, is not adopted; a loader image
    // without the grant is refused.
    const second = await setUp(runtime, first.stateDir);
    await second.host.boot(parseBootList("acme/set"));
    expect(second.host.inspect("compose-set")).toMatchObject({ state: "failed" });
    expect(second.host.inspect("compose-set").error).toMatch(/add --allow-docker to grant that/);
    expect(runtime.containerOf("compose-set")).toBeUndefined();
    expect(second.store.current.adapters).toEqual([
      { name: "compose-set", source: "image", image: "acme/set" },
    ]);
    await second.host.close();

    const third = await setUp(runtime, first.stateDir);
    await third.host.boot(parseBootList("acme/set --allow-docker"));
    expect(third.host.inspect("compose-set")).toMatchObject({ state: "ready", dockerSocket: true });
    expect(runtime.containerOf("compose-set")!.spec.allowDocker).toBe(true);
    expect(runtime.containerOf("compose-set")!.id).not.toBe(before);
    expect(third.logged).toContain(
      "warn: adapter compose-set: the boot list (--adapters) names acme/set, and its grants follow the list: --allow-docker granted (the list writes it)",
    );
  });

  it("leaves the grants of adapters whose image it does not name", async () => {
    const runtime = new FakeRuntime();
    runtime.local.set("acme/mirror", { ...MIRROR });
    const first = await setUp(runtime);
    await first.host.load({ image: "acme/mirror", allowCredentials: true });
    await first.host.close();
    const second = await setUp(runtime, first.stateDir);
    await second.host.boot(parseBootList("acme/other"));
    expect(second.host.inspect("mirror").credentials).toBe("sent");
    expect(second.logged.filter((l) => l.includes("grants follow"))).toEqual([]);
  });

  it("logs failures at warn", async () => {
    const s = await setUp();
    await s.host.boot(parseBootList("acme/missing"));
    expect(s.logged).toHaveLength(1);
    expect(s.logged[0]).toMatch(/^warn: adapter acme\/missing failed: /);
  });
});
