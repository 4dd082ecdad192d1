import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningProxy, startProxy } from "./proxy.js";
import {
  contains,
  ended,
  type FakeEngine,
  openClient,
  readUntil,
  startFakeEngine,
} from "./testing/fake-engine.js";
import { tempDir } from "./testing/temp-dir.js";

const PING = "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n";
const OK_PING = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK";

let engine: FakeEngine | undefined;
let proxy: RunningProxy | undefined;
/** Resolves when the fake engine has read a request head. */
let requestSeen: Promise<void>;
const clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.close();
  await engine?.close();
  proxy = undefined;
  engine = undefined;
});

/** A proxy in front of a fake engine that answers each request head after `delayMs` (or streams forever). */
async function setUp(answer: { delayMs: number } | "stream"): Promise<string> {
  let seen!: () => void;
  requestSeen = new Promise((resolve) => {
    seen = resolve;
  });
  engine = await startFakeEngine((socket) => {
    let buffered = "";
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      while (buffered.includes("\r\n\r\n")) {
        buffered = buffered.slice(buffered.indexOf("\r\n\r\n") + 4);
        seen();
        if (answer === "stream") {
          // A follow stream (logs -f, events): a chunk now and then, never the last one.
          socket.write(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
          );
          const timer = setInterval(() => socket.write("3\r\n{}\n\r\n"), 50);
          socket.once("close", () => clearInterval(timer));
        } else {
          setTimeout(() => socket.write(OK_PING), answer.delayMs);
        }
      }
    });
  });
  const socketPath = join(tempDir("pst-drain-"), "proxy.sock");
  proxy = await startProxy({ listen: [`unix://${socketPath}`], docker: `unix://${engine.path}` });
  return socketPath;
}

async function client(socketPath: string): Promise<Socket> {
  const socket = await openClient(socketPath);
  clients.push(socket);
  return socket;
}

function refused(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

describe("RunningProxy.drain", () => {
  it("closes idle keep-alive connections at once and resolves without waiting for the bound", async () => {
    const socketPath = await setUp({ delayMs: 0 });
    const idle = await client(socketPath);
    idle.write(PING);
    await readUntil(idle, contains("\r\n\r\nOK"));
    const result = await proxy!.drain(5_000);
    await ended(idle, 1_000);
    expect(result.cut).toBe(0);
    expect(result.elapsedMs).toBeLessThan(1_000);
  });

  it("lets a call in flight finish, with Connection: close; new clients are refused meanwhile", async () => {
    const socketPath = await setUp({ delayMs: 400 });
    const busy = await client(socketPath);
    busy.write(PING);
    await requestSeen;
    const draining = proxy!.drain(5_000);
    // The socket file is gone at once: a client connecting now is refused, not left waiting.
    expect(existsSync(socketPath)).toBe(false);
    expect(await refused(socketPath)).toBe("ENOENT");
    const answer = await readUntil(busy, contains("\r\n\r\nOK"), 2_000);
    expect(answer.toString()).toBe(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
    );
    await ended(busy, 1_000);
    const result = await draining;
    expect(result.cut).toBe(0);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(300);
  });

  it("closes a keep-alive connection after its exchange in flight: the next request is not taken", async () => {
    const socketPath = await setUp({ delayMs: 200 });
    const busy = await client(socketPath);
    busy.write(PING);
    await requestSeen;
    const draining = proxy!.drain(5_000);
    const answer = await readUntil(busy, contains("\r\n\r\nOK"), 2_000);
    expect(answer.toString()).toContain("Connection: close\r\n");
    busy.write(PING); // too late: the proxy has ended its side
    await ended(busy, 1_000);
    expect((await draining).cut).toBe(0);
  });

  it("cuts a follow stream at the bound, and says how many it cut", async () => {
    const socketPath = await setUp("stream");
    const follower = await client(socketPath);
    follower.write("GET /events HTTP/1.1\r\nHost: docker\r\n\r\n");
    await readUntil(follower, contains("{}\n"), 2_000);
    const result = await proxy!.drain(300);
    expect(result.cut).toBe(1);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(290);
    expect(result.elapsedMs).toBeLessThan(1_000);
    await ended(follower, 500);
  });

  it("with a bound of 0 cuts everything at once, as close() does", async () => {
    const socketPath = await setUp("stream");
    const follower = await client(socketPath);
    follower.write("GET /events HTTP/1.1\r\nHost: docker\r\n\r\n");
    await readUntil(follower, contains("{}\n"), 2_000);
    const result = await proxy!.drain(0);
    expect(result.cut).toBe(1);
    await ended(follower, 500);
  });
});
