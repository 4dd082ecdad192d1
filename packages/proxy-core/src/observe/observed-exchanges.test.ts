import type { Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningProxy, startProxy } from "../proxy.js";
import { type FakeAdapter, startFakeAdapter } from "../testing/fake-adapter.js";
import { contains, type FakeEngine, openClient, readUntil, startFakeEngine } from "../testing/fake-engine.js";
import { tempDir } from "../testing/temp-dir.js";
import type { ExchangeRecord, HookCallRecord, ProxyObserver } from "./observer.js";

// What observers hear of exchanges on a real proxy: refused, cut and tunnelled ones included.

let engine: FakeEngine | undefined;
let proxy: RunningProxy | undefined;
const adapters: FakeAdapter[] = [];
const clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.close();
  await engine?.close();
  for (const adapter of adapters.splice(0)) await adapter.close();
  proxy = undefined;
  engine = undefined;
});

/** An engine that answers each request head (bodies are not expected) with `answer(head)`. */
function answering(answer: (head: string, socket: Socket) => string | null) {
  return (socket: Socket) => {
    let buffered = "";
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      for (let end = buffered.indexOf("\r\n\r\n"); end !== -1; end = buffered.indexOf("\r\n\r\n")) {
        const head = buffered.slice(0, end + 4);
        buffered = buffered.slice(end + 4);
        const text = answer(head, socket);
        if (text !== null) socket.write(text);
      }
    });
  };
}

const JSON_OK = (body: string) =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

interface Heard {
  exchanges: ExchangeRecord[];
  tunnels: { bytesIn: number; bytesOut: number }[];
  hooks: HookCallRecord[];
}

async function setUp(
  onUpstream: (socket: Socket) => void,
  options: { observer?: Partial<ProxyObserver>; adapters?: Parameters<typeof startFakeAdapter>[0][] } = {},
): Promise<{ client: Socket; heard: Heard; socketPath: string }> {
  engine = await startFakeEngine(onUpstream);
  const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
  proxy = await startProxy({
    listen: [`unix://${socketPath}`],
    docker: `unix://${engine.path}`,
    maxBodyBytes: 1024,
  });
  const heard: Heard = { exchanges: [], tunnels: [], hooks: [] };
  proxy.observers.add({
    exchange: (r) => heard.exchanges.push(r),
    tunnelClosed: (b) => heard.tunnels.push(b),
    hookCall: (r) => heard.hooks.push(r),
    ...options.observer,
  });
  for (const fake of options.adapters ?? []) {
    const started = await startFakeAdapter(fake);
    adapters.push(started);
    proxy.hooks.register(started.adapter);
  }
  const client = await openClient(socketPath);
  clients.push(client);
  return { client, heard, socketPath };
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("byte counts", () => {
  it("never go negative when a client that read nothing leaves a tunnel (its queued bytes are discarded)", async () => {
    const big = "x".repeat(900_000);
    const { client, heard } = await setUp(
      answering((head) =>
        head.includes("attach")
          ? "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
          : `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
      ),
    );
    client.pause(); // reads nothing
    client.write(
      "GET /containers/json HTTP/1.1\r\nHost: d\r\n\r\n" +
        "POST /containers/x/attach?stream=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
    );
    await until(() => heard.exchanges.length === 2);
    client.destroy();
    await until(() => heard.tunnels.length === 1);
    expect(heard.tunnels[0]!.bytesOut).toBeGreaterThanOrEqual(0);
    expect(heard.tunnels[0]!.bytesIn).toBeGreaterThanOrEqual(0);
  });
});

describe("exchange records", () => {
  it.each([
    [
      "a request with ambiguous framing",
      "POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
      "POST",
    ],
    ["a request head over 64 KiB", `GET /x HTTP/1.1\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`, 431, ""],
  ])("count %s the proxy refused", async (_, text, status, method) => {
    const { client, heard } = await setUp(answering(() => JSON_OK("{}")));
    client.write(text);
    await readUntil(client, contains(`HTTP/1.1 ${status}`));
    await until(() => heard.exchanges.length === 1);
    expect(heard.exchanges[0]).toMatchObject({ method, status, hooked: false });
    expect(heard.exchanges[0]!.bytesOut).toBeGreaterThan(0);
  });

  it("count a hooked request refused as too large (413), with its request id", async () => {
    const { client, heard } = await setUp(
      answering(() => JSON_OK("{}")),
      {
        adapters: [
          {
            name: "p",
            hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }],
            reply: () => ({ action: "allow" }),
          },
        ],
      },
    );
    const body = JSON.stringify({ Image: "x".repeat(2000) });
    client.write(
      `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await readUntil(client, contains("HTTP/1.1 413"));
    await until(() => heard.exchanges.length === 1);
    expect(heard.exchanges[0]).toMatchObject({
      method: "POST",
      path: "/v1.41/containers/create",
      status: 413,
      hooked: true,
    });
    expect(heard.exchanges[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("count an exchange the engine cut mid-response, and one the client abandoned, with status 0", async () => {
    const { client, heard, socketPath } = await setUp(
      answering((head, socket) => {
        if (head.includes("/cut")) {
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
          setTimeout(() => socket.destroy(), 20);
          return null;
        }
        // Never finishes; ends when its client goes, as Docker ends a follow stream.
        socket.on("end", () => socket.end());
        return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nslow";
      }),
    );
    client.write("GET /cut HTTP/1.1\r\nHost: d\r\n\r\n");
    await until(() => heard.exchanges.length === 1);
    expect(heard.exchanges[0]).toMatchObject({ method: "GET", path: "/cut", status: 0 });
    const second = await openClient(socketPath);
    clients.push(second);
    second.write("GET /slow?x=1 HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(second, contains("slow"));
    second.destroy();
    await until(() => heard.exchanges.length === 2);
    expect(heard.exchanges[1]).toMatchObject({ method: "GET", path: "/slow", status: 0 });
  });

  it("carry a request id on pass-through exchanges only while an observer asks for one", async () => {
    const { client, heard } = await setUp(answering(() => JSON_OK("{}")));
    client.write("GET /info HTTP/1.1\r\nHost: d\r\n\r\n");
    await until(() => heard.exchanges.length === 1);
    expect(heard.exchanges[0]!.requestId).toBeUndefined();
    const ids: (string | undefined)[] = [];
    proxy!.observers.add({ exchange: (r) => ids.push(r.requestId), wantsRequestIds: () => true });
    client.write("GET /info HTTP/1.1\r\nHost: d\r\n\r\n");
    await until(() => ids.length === 1);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("carry the hooked request's id, the one its hook calls have", async () => {
    const { client, heard } = await setUp(
      answering(() => JSON_OK("{}")),
      {
        adapters: [
          {
            name: "p",
            hooks: [{ method: "GET", path: "/info", stage: "pre" }],
            reply: () => ({ action: "allow" }),
          },
        ],
      },
    );
    client.write("GET /info HTTP/1.1\r\nHost: d\r\n\r\n");
    await until(() => heard.exchanges.length === 1 && heard.hooks.length === 1);
    expect(heard.exchanges[0]).toMatchObject({
      requestId: heard.hooks[0]!.requestId,
      path: "/info",
      status: 200,
      hooked: true,
    });
  });
});

describe("post-hooks that only observe", () => {
  const rewriteTo500 = () => ({ action: "rewrite", status: 500, body: { message: "changed" } });

  it("are recorded as pass when no post-hook needs the body: their rewrite never reaches the client", async () => {
    const { client, heard } = await setUp(
      answering(() => JSON_OK('{"Containers":1}')),
      {
        adapters: [
          {
            name: "watcher",
            hooks: [{ method: "GET", path: "/info", stage: "post", needsBody: false }],
            reply: rewriteTo500,
          },
        ],
      },
    );
    client.write("GET /info HTTP/1.1\r\nHost: d\r\n\r\n");
    await readUntil(client, contains('{"Containers":1}'));
    await until(() => heard.hooks.length === 1);
    expect(heard.hooks[0]).toMatchObject({ adapter: "watcher", decision: "pass" });
  });

  it("are recorded as pass when the body is read for pre-hook warnings alone", async () => {
    const { client, heard } = await setUp(
      answering(() => JSON_OK('{"Containers":1}')),
      {
        adapters: [
          {
            name: "warner",
            hooks: [{ method: "GET", path: "/info", stage: "pre" }],
            reply: () => ({ action: "allow", warnings: ["careful"] }),
          },
          {
            name: "watcher",
            hooks: [{ method: "GET", path: "/info", stage: "post", needsBody: false }],
            reply: rewriteTo500,
          },
        ],
      },
    );
    client.write("GET /info HTTP/1.1\r\nHost: d\r\n\r\n");
    const answer = (await readUntil(client, contains("careful"))).toString();
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"Containers":1');
    await until(() => heard.hooks.length === 2);
    expect(heard.hooks.find((h) => h.adapter === "watcher")).toMatchObject({ decision: "pass" });
  });
});

describe("an observer that throws", () => {
  it("is reported once to onObserverError, and the client still gets its answer", async () => {
    engine = await startFakeEngine(answering(() => JSON_OK("{}")));
    const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
    const errors: unknown[] = [];
    proxy = await startProxy({
      listen: [`unix://${socketPath}`],
      docker: `unix://${engine.path}`,
      onObserverError: (error) => errors.push(error),
    });
    proxy.observers.add({
      exchange: () => {
        throw new Error("broken observer");
      },
    });
    const client = await openClient(socketPath);
    clients.push(client);
    client.write("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\nGET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
    const twice = (bytes: Buffer) => bytes.toString().split("HTTP/1.1 200").length === 3;
    expect(twice(await readUntil(client, twice))).toBe(true);
    expect(errors).toEqual([new Error("broken observer")]);
  });
});
