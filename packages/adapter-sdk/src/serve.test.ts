import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { createCall, offer, post } from "../test-fixtures/http-client.js";
import { defineAdapter } from "./define.js";
import { AdapterSdkErrorCode } from "./errors.js";
import { SOCKET_ENV } from "./listen.js";
import { type Logger, silentLogger } from "./logger.js";
import { type RunningAdapter, type ServeOptions, serve } from "./serve.js";

/** A temp dir removed when the current test finishes. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const tempSocket = () => join(tempDir("pst-sdk-"), "run", "adapter.sock");

let release: () => void = () => {};
const adapter = defineAdapter({
  name: "label-injector",
  hooks: {
    "POST /containers/create": {
      pre(ctx) {
        if (ctx.body.Image === "bad") return ctx.deny(403, "no bad images");
        return { body: { ...ctx.body, Labels: { ...ctx.body.Labels, seen: "yes" } } };
      },
      post: () => ({ status: 202 }),
    },
    "POST /containers/{id}/wait": {
      // Answers when the test says so: a call in flight during close().
      pre: () => new Promise<undefined>((resolve) => (release = () => resolve(undefined))),
    },
  },
});

const running: RunningAdapter[] = [];
async function start(options: ServeOptions = {}): Promise<RunningAdapter> {
  const server = await serve(adapter, { handleSignals: false, logger: silentLogger, ...options });
  running.push(server);
  return server;
}

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await Promise.all(running.splice(0).map((server) => server.close()));
});

describe("serve() on a unix socket", () => {
  it("answers the handshake and hook calls, on a socket with mode 0660", async () => {
    const socket = tempSocket();
    const server = await start({ socket });
    expect(server.address).toBe(`unix://${socket}`);
    expect(statSync(socket).mode & 0o777).toBe(0o660);

    const agent = new Agent({ keepAlive: true });
    const handshake = await post(server.address, "/powerstrip/handshake", offer, { agent });
    expect(handshake).toMatchObject({ status: 200, headers: { "content-type": "application/json" } });
    expect(handshake.body).toMatchObject({
      version: "2",
      name: "label-injector",
      hooks: [{ stage: "pre" }, { stage: "post" }, { stage: "pre" }],
    });

    const rewrite = await post(
      server.address,
      "/powerstrip/hook",
      createCall("label-injector", { Image: "nginx" }),
      { agent },
    );
    expect(rewrite).toMatchObject({
      status: 200,
      body: { action: "rewrite", body: { Image: "nginx", Labels: { seen: "yes" } } },
    });
    const deny = await post(
      server.address,
      "/powerstrip/hook",
      createCall("label-injector", { Image: "bad" }),
      { agent },
    );
    expect(deny).toMatchObject({
      status: 200,
      body: { action: "deny", status: 403, message: "no bad images" },
    });
    const response = { status: 201, headers: {}, body: { Id: "x" }, streamed: false };
    const postHook = await post(
      server.address,
      "/powerstrip/hook",
      createCall("label-injector", {}, "post", response),
      { agent },
    );
    expect(postHook).toMatchObject({ status: 200, body: { action: "rewrite", status: 202 } });
    agent.destroy();
  });

  it("replaces a stale socket file, but never a live socket or another file", async () => {
    const socket = tempSocket();
    const first = await start({ socket });
    await expect(start({ socket })).rejects.toMatchObject({ code: AdapterSdkErrorCode.AddressInUse });
    await first.close();
    // A process killed by SIGKILL leaves its socket file behind, with nobody listening.
    const child = spawn(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(socket)}, () => console.log("up"))`,
    ]);
    await new Promise((resolve) => child.stdout.once("data", resolve));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(statSync(socket).isSocket()).toBe(true);
    const second = await start({ socket });
    expect((await post(second.address, "/powerstrip/handshake", offer)).status).toBe(200);

    const file = join(tempDir("pst-sdk-"), "precious");
    writeFileSync(file, "data");
    await expect(start({ socket: file })).rejects.toMatchObject({ code: AdapterSdkErrorCode.AddressInUse });
  });

  it("close() lets an in-flight call finish, then removes the socket and ends kept-alive connections", async () => {
    const socket = tempSocket();
    const server = await start({ socket });
    const agent = new Agent({ keepAlive: true });
    await post(server.address, "/powerstrip/handshake", offer, { agent });
    const waitCall = {
      ...createCall("label-injector", undefined),
      hook: "POST /containers/{id}/wait",
      request: {
        ...createCall("label-injector", undefined).request,
        path: "/containers/a/wait",
        params: { id: "a" },
      },
    };
    const inFlight = post(server.address, "/powerstrip/hook", waitCall, { agent });
    await vi.waitFor(() => expect(release).not.toBe(undefined));
    await new Promise((resolve) => setTimeout(resolve, 50));
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    release();
    expect(await inFlight).toMatchObject({
      status: 200,
      body: { action: "allow" },
      headers: { connection: "close" },
    });
    const started = Date.now();
    await closing;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(() => statSync(socket)).toThrow();
    agent.destroy();
  });
});

describe("where serve() listens", () => {
  it("POWERSTRIP_ADAPTER_SOCKET wins over the options", async () => {
    const socket = tempSocket();
    vi.stubEnv(SOCKET_ENV, socket);
    const server = await start({ port: 0, socket: tempSocket() });
    expect(server.address).toBe(`unix://${socket}`);
  });

  it("takes unix:// in the variable too", async () => {
    const socket = tempSocket();
    vi.stubEnv(SOCKET_ENV, `unix://${socket}`);
    expect((await start()).address).toBe(`unix://${socket}`);
  });

  it("listens on 127.0.0.1 with { port }", async () => {
    vi.stubEnv(SOCKET_ENV, "");
    const server = await start({ port: 0 });
    expect(server.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await post(server.address, "/powerstrip/handshake", offer)).status).toBe(200);
  });

  it("refuses to guess", async () => {
    vi.stubEnv(SOCKET_ENV, "");
    await expect(serve(adapter, { handleSignals: false, logger: silentLogger })).rejects.toMatchObject({
      code: AdapterSdkErrorCode.NoAddress,
      message: expect.stringContaining(SOCKET_ENV),
    });
  });
});

describe("what serve() refuses", () => {
  it.each([
    [
      "an unknown endpoint",
      "/powerstrip/other",
      "POST",
      offer,
      404,
      "label-injector: no endpoint /powerstrip/other; POST /powerstrip/handshake or /powerstrip/hook",
    ],
    ["another method", "/powerstrip/hook", "PUT", offer, 405, "label-injector: /powerstrip/hook takes POST"],
    [
      "a body that is not JSON",
      "/powerstrip/hook",
      "POST",
      "{nope",
      400,
      "label-injector: the call body is not JSON",
    ],
    [
      "a body over the limit",
      "/powerstrip/hook",
      "POST",
      { pad: "x".repeat(2000) },
      413,
      "label-injector: the call body is over 1024 bytes",
    ],
  ])("%s", async (_what, path, method, body, status, message) => {
    const server = await start({ socket: tempSocket(), maxBodyBytes: 1024 });
    const reply = await post(server.address, path, body, { method });
    expect(reply.status).toBe(status);
    expect((reply.body as { message: string }).message).toContain(message);
  });
});

describe("signals", () => {
  it("on SIGTERM, finishes, closes the socket and exits 0", async () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never);
    const log: Logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const socket = tempSocket();
    const before = process.listenerCount("SIGTERM");
    await serve(adapter, { socket, logger: log });
    expect(process.listenerCount("SIGTERM")).toBe(before + 1);
    process.emit("SIGTERM", "SIGTERM");
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
    expect(() => statSync(socket)).toThrow();
    expect(process.listenerCount("SIGTERM")).toBe(before);
    expect(log.info).toHaveBeenCalledWith("SIGTERM: finishing in-flight calls, then exiting");
  });

  it("installs no handlers with { handleSignals: false }", async () => {
    const before = process.listenerCount("SIGTERM");
    await start({ socket: tempSocket() });
    expect(process.listenerCount("SIGTERM")).toBe(before);
  });
});
