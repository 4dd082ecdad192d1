import type { Socket } from "node:net";
import { connect } from "node:net";
import { join } from "node:path";
import { validateHookCall } from "@powerstrip/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as peer from "../peer-credentials.js";
import { type RunningProxy, startProxy } from "../proxy.js";
import { type FakeAdapter, startFakeAdapter } from "../testing/fake-adapter.js";
import { contains, type FakeEngine, openClient, readUntil, startFakeEngine } from "../testing/fake-engine.js";
import { tempDir } from "../testing/temp-dir.js";

/**
 * Hook calls say who the client is (`client`), worked out once per connection on its first
 * hooked call: a connection whose calls no hook matches never has its peer looked up.
 */
vi.mock("../peer-credentials.js", { spy: true });

let engine: FakeEngine | undefined;
let proxy: RunningProxy | undefined;
let fake: FakeAdapter | undefined;
const clients: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy?.close();
  await engine?.close();
  await fake?.close();
  vi.mocked(peer.peerCredentials).mockClear();
});

const PING = "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n";
const ANSWER = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
const create = () => {
  const body = JSON.stringify({ Image: "debian" });
  return `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
};

async function setUp() {
  engine = await startFakeEngine((socket) => {
    socket.on("data", (chunk: Buffer) => {
      // One answer per request head the engine sees.
      const heads = chunk.toString("latin1").split("\r\n\r\n").length - 1;
      for (let i = 0; i < heads; i++) socket.write(ANSWER);
    });
  });
  fake = await startFakeAdapter({
    name: "who",
    hooks: [
      { method: "POST", path: "/containers/create", stage: "pre" },
      { method: "POST", path: "/containers/create", stage: "post" },
    ],
    reply: (call) => (call.stage === "pre" ? { action: "allow" } : { action: "pass" }),
  });
  const socketPath = join(tempDir("pst-proxy-"), "proxy.sock");
  proxy = await startProxy({
    listen: [`unix://${socketPath}`, "tcp://127.0.0.1:0"],
    docker: `unix://${engine.path}`,
  });
  proxy.hooks.register(fake.adapter);
  const port = Number(
    proxy.addresses
      .find((a) => a.startsWith("tcp://"))!
      .split(":")
      .pop(),
  );
  return { socketPath, port };
}

async function exchange(client: Socket, request: string): Promise<void> {
  const read = readUntil(client, contains("{}"));
  client.write(request);
  await read;
}

describe("the client in hook calls", () => {
  it("carries a unix client's uid/gid/pid in pre and post calls, looked up once per connection", async () => {
    const { socketPath } = await setUp();
    const client = await openClient(socketPath);
    clients.push(client);
    await exchange(client, PING);
    expect(peer.peerCredentials).not.toHaveBeenCalled(); // pass-through: no lookup
    await exchange(client, create());
    await exchange(client, create());
    expect(peer.peerCredentials).toHaveBeenCalledTimes(1);
    const expected = { transport: "unix", uid: process.getuid!(), gid: process.getgid!(), pid: process.pid };
    expect(fake!.calls.map((call) => call.client)).toEqual([expected, expected, expected, expected]);
    for (const call of fake!.calls) expect(validateHookCall(call)).toMatchObject({ ok: true });
  });

  it("carries a loopback TCP client's address", async () => {
    const { port } = await setUp();
    const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    clients.push(client);
    await new Promise((resolve) => client.once("connect", resolve));
    await exchange(client, create());
    expect(fake!.calls[0]!.client).toEqual({ transport: "tcp", address: `127.0.0.1:${client.localPort}` });
    expect(peer.peerCredentials).not.toHaveBeenCalled();
  });
});
