import { createServer } from "node:net";
import { join } from "node:path";
import { validateAdapterInfo, validateAdapterList, validateHandshakeRequest } from "@powerstrip/protocol";
import { HookRegistry } from "@powerstrip/proxy-core";
import { describe, expect, it, vi } from "vitest";
import { AdapterHost } from "./adapter-host.js";
import { AdapterHostError } from "./errors.js";
import { parseLegacyHook } from "./legacy.js";
import { startTestAdapter, tempDir, v2Adapter } from "./testing/test-adapter.js";

const FIXED = new Date("2025-06-01T09:30:00.000Z");

function setUp(options: { handshakeTimeoutMs?: number } = {}) {
  const registry = new HookRegistry();
  const host = new AdapterHost(registry, { proxyVersion: "9.9.9", now: () => FIXED, ...options });
  return { registry, host };
}

/** Resolves to the thrown AdapterHostError (fails the test if it resolves instead). */
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

const createHook = { method: "POST", path: "/containers/create", stage: "pre" };

describe("AdapterHost: loading a current (v2) adapter", () => {
  it("handshakes, registers the hooks with the declared settings, and reports it", async () => {
    const adapter = await v2Adapter({
      name: "label-injector",
      adapterVersion: "1.0.0",
      priority: 100,
      failurePolicy: "ignore",
      timeoutMs: 750,
      hooks: [
        createHook,
        { method: "POST", path: "/containers/{id}/start", stage: "post", needsBody: false },
      ],
    });
    const { registry, host } = setUp();
    const info = await host.loadUrl({ url: adapter.url });

    const handshake = adapter.received[0]!;
    expect(handshake.path).toBe("/powerstrip/handshake");
    expect(handshake.body).toEqual({ protocol: "powerstrip", versions: ["2"], proxy: { version: "9.9.9" } });
    expect(validateHandshakeRequest(handshake.body).ok).toBe(true);

    expect(validateAdapterInfo(info)).toEqual({ ok: true, value: info });
    expect(info).toEqual({
      name: "label-injector",
      source: adapter.url,
      kind: "url",
      state: "ready",
      hooks: [createHook, { method: "POST", path: "/containers/{id}/start", stage: "post" }],
      priority: 100,
      failurePolicy: "ignore",
      timeoutMs: 750,
      since: FIXED.toISOString(),
      protocolVersion: "2",
      credentials: "none",
    });
    const hooked = registry.get("label-injector")!;
    expect(hooked).toMatchObject({
      priority: 100,
      failurePolicy: "ignore",
      timeoutMs: 750,
      protocolVersion: "2",
    });
    expect(hooked.hooks).toEqual([
      { ...createHook, needsBody: true },
      { method: "POST", path: "/containers/{id}/start", stage: "post", needsBody: false },
    ]);
    // Live: the registry matches requests to it at once.
    expect(registry.match("POST", "/v1.41/containers/create")?.pre[0]?.adapter.name).toBe("label-injector");
    // Hook calls go to /powerstrip/hook over the same transport.
    await hooked.transport.call({ hello: 1 }, { timeoutMs: 1000 });
    expect(adapter.received[1]).toEqual({ path: "/powerstrip/hook", body: { hello: 1 } });
  });

  it("fills in the protocol's defaults for what the reply leaves out", async () => {
    const adapter = await v2Adapter({ name: "minimal", hooks: [createHook] });
    const { registry, host } = setUp();
    const info = await host.loadUrl({ url: adapter.url });
    expect(info).toMatchObject({ priority: 1000, failurePolicy: "fail", timeoutMs: 2000 });
    expect(registry.get("minimal")!.hooks[0]!.needsBody).toBe(true);
  });

  it("sends the operator's name, and the operator's priority overrides the adapter's", async () => {
    const adapter = await v2Adapter({ name: "label-injector", priority: 100, hooks: [createHook] });
    const { registry, host } = setUp();
    const info = await host.loadUrl({ url: adapter.url, name: "labels-prod", priority: 7 });
    expect(adapter.received[0]!.body).toMatchObject({ name: "labels-prod" });
    expect(info).toMatchObject({ name: "labels-prod", priority: 7 });
    expect(registry.get("labels-prod")!.priority).toBe(7);
  });

  it("loads a lifecycle-only adapter (no hooks)", async () => {
    const adapter = await v2Adapter({ name: "monitoring", hooks: [] });
    const { host } = setUp();
    expect((await host.loadUrl({ url: adapter.url })).hooks).toEqual([]);
  });

  it("reaches adapters on loopback TCP too", async () => {
    const adapter = await startTestAdapter(
      (path, body) =>
        path === "/powerstrip/handshake" ? { version: "2", name: body.name ?? "tcp-one", hooks: [] } : body,
      { tcp: true },
    );
    const { host } = setUp();
    expect((await host.loadUrl({ url: adapter.url })).name).toBe("tcp-one");
    const port = adapter.url.split(":").at(-1);
    const viaLocalhost = setUp().host;
    expect((await viaLocalhost.loadUrl({ url: `http://localhost:${port}/`, name: "tcp-two" })).source).toBe(
      `http://localhost:${port}/`,
    );
  });
});

describe("AdapterHost: refused handshakes leave nothing behind", () => {
  const cases: [string, unknown, RegExp][] = [
    ["a body that is not JSON", { raw: "<html>hello</html>" }, /reply is not JSON/],
    [
      "a reply against the schema, naming the field",
      { version: "2", name: "Bad Name", hooks: [{ method: "post", path: "/x", stage: "pre" }] },
      /invalid reply: name: must be lower-case.*hooks\[0\]\.method/,
    ],
    [
      "a reply repeating a hook",
      { version: "2", name: "twice", hooks: [createHook, createHook] },
      /hooks\[1\]: repeats hooks\[0\]/,
    ],
    ["a version it was not offered", { version: "3", name: "future", hooks: [] }, /version: /],
    [
      "a refusal with the adapter's own message",
      { raw: JSON.stringify({ message: "config.label must be a string" }), status: 400 },
      /answered HTTP 400: config\.label must be a string/,
    ],
  ];
  for (const [what, reply, message] of cases) {
    it(`refuses ${what}`, async () => {
      const adapter = await startTestAdapter(() => reply);
      const { registry, host } = setUp();
      const error = await refusal(host.loadUrl({ url: adapter.url }));
      expect(error.code).toBe("HANDSHAKE_FAILED");
      expect(error.message).toMatch(new RegExp(`^handshake with ${adapter.url} failed: `));
      expect(error.message).toMatch(message);
      expect(registry.list()).toEqual([]);
      expect(host.list()).toEqual([]);
    });
  }

  it("refuses a reply under another name than the one asked for, and frees the name", async () => {
    const adapter = await startTestAdapter(() => ({ version: "2", name: "stubborn", hooks: [] }));
    const { host } = setUp();
    const error = await refusal(host.loadUrl({ url: adapter.url, name: "wanted" }));
    expect(error.message).toMatch(/name: the adapter answered "stubborn" but was asked to be "wanted"/);
    expect(host.list()).toEqual([]);
  });

  it("gives up on an adapter that does not answer within the deadline", async () => {
    const adapter = await startTestAdapter(() => ({ hang: true }));
    const { host } = setUp({ handshakeTimeoutMs: 150 });
    const started = Date.now();
    const error = await refusal(host.loadUrl({ url: adapter.url, name: "slow" }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.code).toBe("HANDSHAKE_FAILED");
    expect(error.message).toMatch(/timed out after 150 ms/);
    expect(host.list()).toEqual([]);
  });

  it("says when nothing listens at the URL", async () => {
    const { host } = setUp();
    const url = `unix://${join(tempDir(), "nobody.sock")}`;
    const error = await refusal(host.loadUrl({ url }));
    expect(error.code).toBe("HANDSHAKE_FAILED");
    expect(error.message).toMatch(/cannot reach it: ENOENT/);
  });
});

describe("AdapterHost: URLs", () => {
  const refused: [string, RegExp][] = [
    ["http://example.com:8080", /is not on this host/],
    ["http://10.0.0.1:8080", /is not on this host/],
    ["https://127.0.0.1:8443", /adapters live on this host/],
    ["tcp://127.0.0.1:8080", /adapters live on this host/],
    ["unix://relative.sock", /must be absolute/],
    ["http://127.0.0.1:8080/some/path", /has no path/],
    ["http://127.0.0.1:8080/?x=1", /no query/],
    ["not a url", /adapters live on this host/],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${url}`, async () => {
      const error = await refusal(setUp().host.loadUrl({ url }));
      expect(error.code).toBe("INVALID_URL");
      expect(error.message).toMatch(message);
    });
  }

  it("refuses a request against the LoadRequest schema, naming the field", async () => {
    const adapter = await v2Adapter({ name: "x", hooks: [] });
    const error = await refusal(setUp().host.loadUrl({ url: adapter.url, priority: 99999 }));
    expect(error.code).toBe("INVALID_REQUEST");
    expect(error.message).toMatch(/priority/);
    const hooksWithoutLegacy = await refusal(
      setUp().host.loadUrl({ url: adapter.url, hooks: ["pre:GET /x"] }),
    );
    expect(hooksWithoutLegacy.message).toMatch(/hooks: are only for legacy adapters/);
  });

  it("answers images with NOT_IMPLEMENTED on a host without a container runtime", async () => {
    const error = await refusal(setUp().host.load({ image: "acme/labels:1" }));
    expect(error.code).toBe("NOT_IMPLEMENTED");
    expect(error.message).toMatch(/runs no container runtime, so it cannot load adapter images/);
  });
});

describe("AdapterHost: names", () => {
  it("refuses a second adapter under a loaded name", async () => {
    const first = await v2Adapter({ name: "labels", hooks: [createHook] });
    const second = await v2Adapter({ name: "labels", hooks: [createHook] });
    const { registry, host } = setUp();
    await host.loadUrl({ url: first.url });
    const error = await refusal(host.loadUrl({ url: second.url }));
    expect(error.code).toBe("NAME_TAKEN");
    expect(error.message).toMatch(
      /an adapter named labels is already loaded \(from unix:.*\); unload it first/,
    );
    expect(registry.get("labels")!.transport).toBe(registry.list()[0]!.transport);
    // Under another name it loads.
    expect((await host.loadUrl({ url: second.url, name: "labels-2" })).name).toBe("labels-2");
  });

  it("reserves an operator-given name while its handshake runs", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = await startTestAdapter(async () => {
      await held;
      return { version: "2", name: "busy", hooks: [] };
    });
    const other = await v2Adapter({ name: "other", hooks: [] });
    const { host } = setUp();
    const loading = host.loadUrl({ url: slow.url, name: "busy" });
    await expect.poll(() => slow.received.length).toBe(1);
    expect(host.inspect("busy")).toMatchObject({ state: "loading", hooks: [] });
    expect(validateAdapterInfo(host.inspect("busy")).ok).toBe(true);
    const clash = await refusal(host.loadUrl({ url: other.url, name: "busy" }));
    expect(clash.message).toMatch(/is being loaded/);
    const busy = await refusal(host.unload("busy"));
    expect(busy.code).toBe("BUSY");
    release();
    expect((await loading).state).toBe("ready");
  });
});

describe("AdapterHost: legacy (2015) adapters", () => {
  it("loads by URL with explicit hooks, POSTs v1 calls to the URL's own path", async () => {
    const adapter = await startTestAdapter((_path, body) => body, { tcp: true });
    const { registry, host } = setUp();
    const url = `${adapter.url}/v1/extension`;
    const info = await host.loadUrl({
      url,
      name: "flocker",
      legacy: true,
      hooks: ["pre:POST /*/containers/create", "post:DELETE /*/containers/*", "pre:* /_ping"],
    });
    expect(validateAdapterInfo(info).ok).toBe(true);
    expect(info).toMatchObject({
      name: "flocker",
      source: url,
      kind: "legacy",
      state: "ready",
      protocolVersion: "1",
      hooks: [
        { method: "POST", path: "/*/containers/create", stage: "pre" },
        { method: "DELETE", path: "/*/containers/*", stage: "post" },
        { method: "*", path: "/_ping", stage: "pre" },
      ],
    });
    const hooked = registry.get("flocker")!;
    expect(hooked.protocolVersion).toBe("1");
    expect(hooked.hooks.map((h) => `${h.stage}:${h.method} ${h.path}`)).toEqual([
      "pre:POST /containers/create",
      "post:DELETE /containers/*",
      "pre:* /_ping",
    ]);
    expect(registry.match("POST", "/v1.16/containers/create")?.pre).toHaveLength(1);
    expect(registry.match("DELETE", "/v1.41/containers/abc")?.post).toHaveLength(1);
    await hooked.transport.call({ PowerstripProtocolVersion: 1 }, { timeoutMs: 1000 });
    expect(adapter.received.at(-1)!.path).toBe("/v1/extension");
  });

  it("names a legacy adapter after its URL when the operator does not", async () => {
    const tcp = await startTestAdapter(() => ({}), { tcp: true });
    const dir = tempDir();
    const socketPath = join(dir, "Weave_Adapter.sock");
    const server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const { host } = setUp();
    const port = tcp.url.split(":").at(-1);
    expect((await host.loadUrl({ url: tcp.url, legacy: true, hooks: ["pre:GET /x"] })).name).toBe(
      `legacy-${port}`,
    );
    expect(
      (await host.loadUrl({ url: `unix://${socketPath}`, legacy: true, hooks: ["pre:GET /x"] })).name,
    ).toBe("weave_adapter");
    await host.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("refuses hooks it cannot match, saying why", async () => {
    const adapter = await startTestAdapter(() => ({}), { tcp: true });
    const { host } = setUp();
    const bad: [string, string, RegExp][] = [
      ["pre:POST /*/containers/create*", "INVALID_HOOK", /segment "create\*" must be a literal/],
      ["pre:POST /v1.16/containers/create", "INVALID_HOOK", /without the \/vX\.Y prefix/],
      // The LoadRequest schema's pattern catches a malformed string first.
      ["during:POST /x", "INVALID_REQUEST", /hooks\[0\]/],
    ];
    for (const [hook, code, message] of bad) {
      const error = await refusal(host.loadUrl({ url: adapter.url, legacy: true, name: "x", hooks: [hook] }));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
    }
    expect(() => parseLegacyHook("during:POST /x")).toThrow(/expected "stage:METHOD \/path"/);
    expect(host.list()).toEqual([]);
  });

  it("refuses a legacy adapter nothing answers at", async () => {
    const { host } = setUp();
    const url = `unix://${join(tempDir(), "gone.sock")}`;
    const error = await refusal(host.loadUrl({ url, name: "gone", legacy: true, hooks: ["pre:GET /x"] }));
    expect(error.code).toBe("ADAPTER_UNREACHABLE");
    expect(error.message).toBe(`cannot reach legacy adapter gone at ${url}: ENOENT`);
    expect(host.list()).toEqual([]);
  });
});

describe("AdapterHost: importing a 2015 adapters.yml", () => {
  const file = {
    endpoints: {
      "POST /*/containers/create": { pre: ["flocker", "weave"], post: ["weave", "flocker"] },
      "DELETE /*/containers/*": { pre: ["flocker"] },
      "/*/containers/*/start": { pre: ["weave"] },
    },
    adapters: { flocker: "http://flocker/flocker-adapter", weave: "http://weave/weave-adapter" },
  };

  it("loads one legacy adapter per entry, hooked where the endpoints say, at the --at URLs", async () => {
    const flocker = await startTestAdapter(() => ({}), { tcp: true });
    const weave = await startTestAdapter(() => ({}));
    const { registry, host } = setUp();
    const loaded = await host.importLegacyFile(file, {
      at: { flocker: `${flocker.url}/flocker-adapter`, weave: weave.url },
    });
    expect(validateAdapterList(loaded).ok).toBe(true);
    expect(loaded.map((a) => [a.name, a.source, a.kind])).toEqual([
      ["flocker", `${flocker.url}/flocker-adapter`, "legacy"],
      ["weave", weave.url, "legacy"],
    ]);
    expect(loaded[0]!.hooks).toEqual([
      { method: "POST", path: "/*/containers/create", stage: "pre" },
      { method: "POST", path: "/*/containers/create", stage: "post" },
      { method: "DELETE", path: "/*/containers/*", stage: "pre" },
    ]);
    expect(loaded[1]!.hooks).toEqual([
      { method: "POST", path: "/*/containers/create", stage: "pre" },
      { method: "POST", path: "/*/containers/create", stage: "post" },
      { method: "*", path: "/*/containers/*/start", stage: "pre" },
    ]);
    expect(registry.match("POST", "/v1.41/containers/abc/start")?.pre.map((m) => m.adapter.name)).toEqual([
      "weave",
    ]);
    await registry.get("flocker")!.transport.call({}, { timeoutMs: 1000 });
    expect(flocker.received[0]!.path).toBe("/flocker-adapter");
  });

  it("refuses URLs that are not on this host, telling the operator to map them with --at", async () => {
    const weave = await startTestAdapter(() => ({}));
    const { host } = setUp();
    const error = await refusal(host.importLegacyFile(file, { at: { weave: weave.url } }));
    expect(error.code).toBe("INVALID_URL");
    expect(error.message).toBe(
      "adapters.yml: flocker (http://flocker/flocker-adapter) is not on this host; map each to where it listens here with --at, e.g. --at flocker=http://127.0.0.1:PORT/path or --at flocker=unix:///path.sock",
    );
    expect(host.list()).toEqual([]);
  });

  it("is all or nothing: one adapter that cannot be reached leaves none loaded", async () => {
    const flocker = await startTestAdapter(() => ({}), { tcp: true });
    const { registry, host } = setUp();
    const error = await refusal(
      host.importLegacyFile(file, {
        at: { flocker: `${flocker.url}/flocker-adapter`, weave: `unix://${join(tempDir(), "none.sock")}` },
      }),
    );
    expect(error.code).toBe("ADAPTER_UNREACHABLE");
    expect(error.message).toMatch(/cannot reach legacy adapter weave/);
    expect(host.list()).toEqual([]);
    expect(registry.list()).toEqual([]);
  });

  it("is all or nothing: a name already loaded refuses the whole file", async () => {
    const flocker = await startTestAdapter(() => ({}), { tcp: true });
    const weave = await v2Adapter({ name: "weave", hooks: [] });
    const { host } = setUp();
    await host.loadUrl({ url: weave.url });
    const error = await refusal(
      host.importLegacyFile(file, { at: { flocker: `${flocker.url}/f`, weave: `${flocker.url}/w` } }),
    );
    expect(error.code).toBe("NAME_TAKEN");
    expect(host.list().map((a) => a.name)).toEqual(["weave"]);
  });

  it("refuses an invalid file or an --at naming an adapter the file does not define", async () => {
    const { host } = setUp();
    const invalid = await refusal(
      host.importLegacyFile({ endpoints: { "POST /x": { pre: ["ghost"] } }, adapters: {} }),
    );
    expect(invalid.code).toBe("INVALID_REQUEST");
    expect(invalid.message).toMatch(/adapter "ghost" is not defined under adapters/);
    const typo = await refusal(host.importLegacyFile(file, { at: { flockr: "unix:///x.sock" } }));
    expect(typo.message).toBe(
      "--at names flockr, which adapters.yml does not define (it defines flocker, weave)",
    );
  });
});

describe("AdapterHost: unload, list, close", () => {
  it("deregisters first, waits for calls in flight, then closes the transport", async () => {
    const adapter = await v2Adapter({ name: "labels", hooks: [createHook] });
    const { registry, host } = setUp();
    await host.loadUrl({ url: adapter.url });
    const transport = registry.get("labels")!.transport;
    let closed = false;
    const close = transport.close.bind(transport);
    transport.close = () => {
      closed = true;
      close();
    };
    registry.enter("labels"); // a call routed to it, still running
    const unloading = host.unload("labels");
    expect(registry.get("labels")).toBeUndefined();
    expect(registry.match("POST", "/containers/create")).toBeNull();
    expect(host.inspect("labels").state).toBe("unloading");
    await Promise.resolve();
    expect(closed).toBe(false);
    registry.leave("labels");
    await unloading;
    expect(closed).toBe(true);
    expect(host.list()).toEqual([]);
    const error = await refusal(host.unload("labels"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toBe("no adapter named labels");
  });

  it("lists in pre-hook order: priority, then name", async () => {
    const { host } = setUp();
    for (const [name, priority] of [
      ["zeta", 10],
      ["beta", 500],
      ["alpha", 500],
    ] as const) {
      const adapter = await v2Adapter({ name, priority, hooks: [] });
      await host.loadUrl({ url: adapter.url });
    }
    const list = host.list();
    expect(list.map((a) => a.name)).toEqual(["zeta", "alpha", "beta"]);
    expect(validateAdapterList(list).ok).toBe(true);
    expect(() => host.inspect("nope")).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
  });

  it("close() cuts the calls still running rather than waiting out the adapter's timeout", async () => {
    const adapter = await startTestAdapter((path) =>
      path === "/powerstrip/handshake"
        ? { version: "2", name: "hung", timeoutMs: 60_000, hooks: [createHook] }
        : { hang: true },
    );
    const { registry, host } = setUp();
    await host.loadUrl({ url: adapter.url });
    // A call routed to it as the data path routes one: counted in, then out when it settles.
    registry.enter("hung");
    const call = registry
      .get("hung")!
      .transport.call({ hook: "x" }, { timeoutMs: 60_000 })
      .then(
        () => "answered",
        (error: Error) => error.message,
      )
      .finally(() => registry.leave("hung"));
    await vi.waitFor(() => expect(adapter.received.length).toBe(2));
    const closing = Date.now();
    await host.close();
    expect(Date.now() - closing).toBeLessThan(2_000);
    expect(await call).toMatch(/cannot reach it|cut/);
    expect(registry.list()).toEqual([]);
  });

  it("close() unloads everything and refuses new loads", async () => {
    const adapter = await v2Adapter({ name: "labels", hooks: [createHook] });
    const { registry, host } = setUp();
    await host.loadUrl({ url: adapter.url });
    await host.close();
    expect(registry.list()).toEqual([]);
    expect(host.list()).toEqual([]);
    const error = await refusal(host.loadUrl({ url: adapter.url }));
    expect(error.code).toBe("CLOSED");
  });
});
