import { request } from "node:http";
import { join } from "node:path";
import { validateAdapterInfo, validateAdminError } from "@powerstrip/protocol";
import { HookRegistry } from "@powerstrip/proxy-core";
import { describe, expect, it, onTestFinished } from "vitest";
import { AdapterHost } from "./adapter-host.js";
import { type LoadStreamLine, NDJSON, startAdminServer } from "./admin-server.js";
import { StateStore } from "./state-store.js";
import { FakeRuntime } from "./testing/fake-runtime.js";
import { tempDir } from "./testing/test-adapter.js";

const LABELS = {
  declares: "labels",
  hooks: [{ method: "POST", path: "/containers/create", stage: "pre" as const }],
};

async function start() {
  const runtime = new FakeRuntime();
  const store = await StateStore.open(tempDir("pst-state-"));
  const host = new AdapterHost(new HookRegistry(), { runtime, store, socketTimeoutMs: 500 });
  const socketPath = join(tempDir(), "admin.sock");
  const server = await startAdminServer({ address: `unix://${socketPath}`, host });
  onTestFinished(async () => {
    await server.close();
    await host.close();
    await runtime.shutdown();
  });
  return { runtime, host, socketPath };
}

interface Raw {
  status: number;
  type: string | undefined;
  text: string;
}

function call(
  socketPath: string,
  method: string,
  path: string,
  options: { body?: unknown; accept?: string; until?: (text: string) => boolean } = {},
): Promise<Raw> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: {
          ...(options.accept ? { accept: options.accept } : {}),
          ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        const done = () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], text });
        res.on("data", (chunk: string) => {
          text += chunk;
          if (options.until?.(text)) {
            done();
            req.destroy();
          }
        });
        res.on("end", done);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const lines = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as LoadStreamLine);

describe("admin server: image loads, reloads and logs", () => {
  it("streams pull progress as ndjson, then the adapter", async () => {
    const { runtime, socketPath } = await start();
    runtime.pullable.set("localhost:5000/acme/labels:1", {
      image: LABELS,
      progress: [
        { status: "Pulling fs layer", id: "a1" },
        { status: "Pull complete", id: "a1" },
      ],
    });
    const answer = await call(socketPath, "POST", "/adapters", {
      body: { image: "localhost:5000/acme/labels:1" },
      accept: `${NDJSON}, application/json`,
    });
    expect(answer.status).toBe(200);
    expect(answer.type).toBe(NDJSON);
    const got = lines(answer.text);
    expect(got.slice(0, 2)).toEqual([
      { progress: { status: "Pulling fs layer", id: "a1" } },
      { progress: { status: "Pull complete", id: "a1" } },
    ]);
    expect(got).toHaveLength(3);
    const last = got[2] as { adapter: unknown };
    expect(validateAdapterInfo(last.adapter).ok).toBe(true);
    expect(last.adapter).toMatchObject({ name: "labels", kind: "image", state: "ready" });
  });

  it("ends the stream with the error when the load fails after progress", async () => {
    const { runtime, socketPath } = await start();
    runtime.pullable.set("localhost:5000/acme/broken:1", {
      image: { run: { exit: 1 } },
      progress: [{ status: "Pull complete", id: "b1" }],
    });
    const answer = await call(socketPath, "POST", "/adapters", {
      body: { image: "localhost:5000/acme/broken:1" },
      accept: NDJSON,
    });
    const got = lines(answer.text);
    expect(got[0]).toEqual({ progress: { status: "Pull complete", id: "b1" } });
    const error = (got[1] as { error: { code: string; message: string } }).error;
    expect(validateAdminError(error).ok).toBe(true);
    expect(error.code).toBe("ADAPTER_START_FAILED");
  });

  it("answers plainly when nothing progressed, and without the ndjson Accept", async () => {
    const { runtime, socketPath } = await start();
    runtime.local.set("acme/labels:1", LABELS);
    const failed = await call(socketPath, "POST", "/adapters", {
      body: { image: "nowhere:1/x" },
      accept: NDJSON,
    });
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.text)).toEqual({
      message: expect.stringMatching(/^cannot pull nowhere:1\/x: /),
      code: "IMAGE_PULL_FAILED",
    });
    const loaded = await call(socketPath, "POST", "/adapters", { body: { image: "acme/labels:1" } });
    expect(loaded.status).toBe(201);
    expect(loaded.type).toBe("application/json");
    expect(JSON.parse(loaded.text)).toMatchObject({ name: "labels", state: "ready" });
  });

  it("reloads: POST /adapters/{name}/reload → 200, a new container", async () => {
    const { runtime, socketPath } = await start();
    runtime.local.set("acme/labels:1", LABELS);
    await call(socketPath, "POST", "/adapters", { body: { image: "acme/labels:1" } });
    const before = runtime.containerOf("labels")!.id;
    const answer = await call(socketPath, "POST", "/adapters/labels/reload");
    expect(answer.status).toBe(200);
    const info = JSON.parse(answer.text);
    expect(info.container.id).not.toBe(before);
    expect(info.container.id).toBe(runtime.containerOf("labels")!.id);
    expect((await call(socketPath, "POST", "/adapters/nope/reload")).status).toBe(404);
    expect((await call(socketPath, "GET", "/adapters/labels/reload")).status).toBe(405);
  });

  it("streams logs as ndjson, split by stream; tail and follow are checked", async () => {
    const { runtime, socketPath } = await start();
    runtime.local.set("acme/labels:1", {
      ...LABELS,
      logs: [
        { stream: "stdout", text: "one\n" },
        { stream: "stderr", text: "two\n" },
        { stream: "stdout", text: "three\n" },
      ],
    });
    await call(socketPath, "POST", "/adapters", { body: { image: "acme/labels:1" } });
    const all = await call(socketPath, "GET", "/adapters/labels/logs");
    expect(all.status).toBe(200);
    expect(all.type).toBe(NDJSON);
    expect(lines(all.text)).toEqual([
      { stream: "stdout", text: "one\n" },
      { stream: "stderr", text: "two\n" },
      { stream: "stdout", text: "three\n" },
    ]);
    const tail = await call(socketPath, "GET", "/adapters/labels/logs?tail=1&follow=false");
    expect(lines(tail.text)).toEqual([{ stream: "stdout", text: "three\n" }]);
    const bad = await call(socketPath, "GET", "/adapters/labels/logs?tail=lots");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).message).toMatch(/tail must be a number of lines/);
    const missing = await call(socketPath, "GET", "/adapters/nope/logs");
    expect(missing.status).toBe(404);
  });
});
