import { spawn } from "node:child_process";
import { lstatSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { validateAdapterInfo, validateAdapterList, validateAdminError } from "@powerstrip/protocol";
import { HookRegistry } from "@powerstrip/proxy-core";
import { afterEach, describe, expect, it } from "vitest";
import { AdapterHost } from "./adapter-host.js";
import { type RunningAdminServer, startAdminServer } from "./admin-server.js";
import { startTestAdapter, tempDir, v2Adapter } from "./testing/test-adapter.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

let server: RunningAdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<{ socketPath: string; host: AdapterHost; registry: HookRegistry }> {
  const registry = new HookRegistry();
  const host = new AdapterHost(registry);
  const socketPath = join(tempDir(), "run", "admin.sock");
  server = await startAdminServer({ address: `unix://${socketPath}`, host });
  return { socketPath, host, registry };
}

function call(socketPath: string, method: string, path: string, body?: unknown | Buffer): Promise<Answer> {
  const payload =
    body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text === "" ? undefined : JSON.parse(text),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function expectAdminError(answer: Answer, status: number, code: string, message?: RegExp): void {
  expect(answer.status).toBe(status);
  expect(answer.headers["content-type"]).toBe("application/json");
  expect(validateAdminError(answer.body).ok).toBe(true);
  expect((answer.body as { code: string }).code).toBe(code);
  if (message) expect((answer.body as { message: string }).message).toMatch(message);
}

describe("admin server: routes", () => {
  it("loads, lists, inspects and unloads an adapter", async () => {
    const { socketPath, registry } = await start();
    const adapter = await v2Adapter({
      name: "labels",
      hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }],
    });
    expect(await call(socketPath, "GET", "/adapters")).toMatchObject({ status: 200, body: [] });

    const loaded = await call(socketPath, "POST", "/adapters", { url: adapter.url, priority: 5 });
    expect(loaded.status).toBe(201);
    expect(validateAdapterInfo(loaded.body).ok).toBe(true);
    expect(loaded.body).toMatchObject({ name: "labels", source: adapter.url, state: "ready", priority: 5 });
    expect(registry.get("labels")).toBeDefined();

    const list = await call(socketPath, "GET", "/adapters");
    expect(validateAdapterList(list.body).ok).toBe(true);
    expect(list.body).toEqual([loaded.body]);
    expect(await call(socketPath, "GET", "/adapters/labels")).toMatchObject({
      status: 200,
      body: loaded.body,
    });

    const unloaded = await call(socketPath, "DELETE", "/adapters/labels");
    expect(unloaded).toMatchObject({ status: 204, body: undefined });
    expect(registry.get("labels")).toBeUndefined();
    expectAdminError(
      await call(socketPath, "GET", "/adapters/labels"),
      404,
      "NOT_FOUND",
      /no adapter named labels/,
    );
    expectAdminError(await call(socketPath, "DELETE", "/adapters/labels"), 404, "NOT_FOUND");
  });

  it("loads a legacy adapter and imports a 2015 file", async () => {
    const { socketPath } = await start();
    const legacy = await startTestAdapter(() => ({}), { tcp: true });
    const one = await call(socketPath, "POST", "/adapters", {
      url: `${legacy.url}/v1/extension`,
      name: "flocker",
      legacy: true,
      hooks: ["pre:POST /*/containers/create"],
    });
    expect(one.status).toBe(201);
    expect(one.body).toMatchObject({ kind: "legacy", protocolVersion: "1" });

    const imported = await call(socketPath, "POST", "/adapters/import", {
      file: {
        endpoints: { "POST /*/containers/create": { pre: ["weave"] } },
        adapters: { weave: "http://weave/weave-adapter" },
      },
      at: { weave: `${legacy.url}/weave` },
    });
    expect(imported.status).toBe(201);
    expect(validateAdapterList(imported.body).ok).toBe(true);
    expect((imported.body as { name: string }[]).map((a) => a.name)).toEqual(["weave"]);

    const offHost = await call(socketPath, "POST", "/adapters/import", {
      file: { endpoints: {}, adapters: { other: "http://other/x" } },
    });
    expectAdminError(offHost, 400, "INVALID_URL", /--at other=/);
  });

  it("maps every failure to an AdminError with the right status", async () => {
    const { socketPath } = await start();
    const adapter = await v2Adapter({ name: "labels", hooks: [] });
    const garbage = await startTestAdapter(() => ({ raw: "nope" }));
    await call(socketPath, "POST", "/adapters", { url: adapter.url });

    expectAdminError(
      await call(socketPath, "POST", "/adapters", { url: adapter.url }),
      409,
      "NAME_TAKEN",
      /already loaded/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters", { url: garbage.url }),
      502,
      "HANDSHAKE_FAILED",
      /not JSON/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters", { url: "http://example.com:80" }),
      400,
      "INVALID_URL",
      /not on this host/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters", { image: "acme/labels:1.0" }),
      501,
      "NOT_IMPLEMENTED",
      /runs no container runtime/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters", { url: adapter.url, prio: 1 }),
      400,
      "INVALID_REQUEST",
      /prio/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters", {}),
      400,
      "INVALID_REQUEST",
      /one of url, image/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters", Buffer.from("{not json")),
      400,
      "INVALID_REQUEST",
      /not JSON/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters"),
      400,
      "INVALID_REQUEST",
      /needs a JSON body/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters/import", { at: {} }),
      400,
      "INVALID_REQUEST",
      /"file"/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters/import", { file: { adapters: {} } }),
      400,
      "INVALID_REQUEST",
      /endpoints/,
    );
    expectAdminError(
      await call(socketPath, "POST", "/adapters", Buffer.alloc(2 * 1024 * 1024, 0x20)),
      413,
      "BODY_TOO_LARGE",
    );
  });

  it("answers unknown routes 404 and wrong methods 405", async () => {
    const { socketPath } = await start();
    expectAdminError(
      await call(socketPath, "GET", "/nope"),
      404,
      "NOT_FOUND",
      /no such admin API route: GET \/nope/,
    );
    expectAdminError(await call(socketPath, "GET", "/"), 404, "NOT_FOUND");
    const put = await call(socketPath, "PUT", "/adapters");
    expectAdminError(put, 405, "METHOD_NOT_ALLOWED");
    expect(put.headers.allow).toBe("GET, POST");
    expectAdminError(await call(socketPath, "PATCH", "/adapters/x"), 405, "METHOD_NOT_ALLOWED");
    // A trailing slash and a query do not matter.
    expect((await call(socketPath, "GET", "/adapters/?x=1")).status).toBe(200);
  });
});

describe("admin server: the socket", () => {
  it("is created mode 0600 and removed on close", async () => {
    const { socketPath } = await start();
    const stats = lstatSync(socketPath);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o600);
    await server!.close();
    server = undefined;
    expect(() => lstatSync(socketPath)).toThrow(/ENOENT/);
  });

  it("replaces a stale socket and refuses a live one or a plain file", async () => {
    const dir = tempDir();
    const host = new AdapterHost(new HookRegistry());
    const stale = join(dir, "stale.sock");
    // A process that dies by SIGKILL leaves its socket file behind, with nobody listening.
    const child = spawn(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(stale)}, () => console.log("up"))`,
    ]);
    await new Promise((resolve) => child.stdout.once("data", resolve));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(lstatSync(stale).isSocket()).toBe(true);
    server = await startAdminServer({ address: `unix://${stale}`, host });
    expect((await call(stale, "GET", "/adapters")).status).toBe(200);

    await expect(startAdminServer({ address: `unix://${stale}`, host })).rejects.toThrow(
      /already in use by a running process/,
    );
    const file = join(dir, "file.sock");
    writeFileSync(file, "");
    await expect(startAdminServer({ address: `unix://${file}`, host })).rejects.toThrow(/is not a socket/);
  });

  it("listens on loopback TCP, and refuses other addresses", async () => {
    const host = new AdapterHost(new HookRegistry());
    server = await startAdminServer({ address: "tcp://127.0.0.1:0", host });
    expect(server.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(server.address.split(":").at(-1));
    const answer = await new Promise<number>((resolve, reject) => {
      request({ host: "127.0.0.1", port, path: "/adapters" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    expect(answer).toBe(200);
    await expect(startAdminServer({ address: "tcp://0.0.0.0:0", host })).rejects.toThrow(/loopback only/);
  });

  it("close() cuts idle keep-alive connections", async () => {
    const { socketPath } = await start();
    const { Agent } = await import("node:http");
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      request({ socketPath, path: "/adapters", agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      })
        .on("error", reject)
        .end();
    });
    const started = Date.now();
    await server!.close();
    server = undefined;
    expect(Date.now() - started).toBeLessThan(1000);
    agent.destroy();
  });
});
