import { createServer, type ServerResponse } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../testing/temp-dir.js";
import { AdapterFailure, AdapterFailureKind } from "./adapter-failure.js";
import { HttpAdapterTransport } from "./http-transport.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** An adapter whose every reply `answer` writes; the transport to it has a 1 KiB reply limit. */
async function adapter(answer: (res: ServerResponse) => void): Promise<HttpAdapterTransport> {
  const socketPath = join(tempDir("pst-transport-"), "adapter.sock");
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const transport = new HttpAdapterTransport(
    { socketPath, path: "/powerstrip/hook" },
    { maxReplyBytes: 1024 },
  );
  closers.push(async () => {
    transport.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return transport;
}

async function failure(promise: Promise<unknown>): Promise<AdapterFailure> {
  const error = await promise.then(
    () => new Error("expected a failure"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AdapterFailure);
  return error as AdapterFailure;
}

describe("HttpAdapterTransport: reply limits", () => {
  it("refuses a declared length over the limit at the head, without waiting for the body", async () => {
    // The body never comes: only a refusal on the head can end this call before its timeout.
    const transport = await adapter((res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 2048 });
      res.flushHeaders();
    });
    const started = Date.now();
    const error = await failure(transport.call({}, { timeoutMs: 5_000 }));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.kind).toBe(AdapterFailureKind.TooLarge);
    expect(error.message).toBe("reply larger than 1024 bytes, the limit for adapter replies");
  });

  it("stops reading an endless chunked reply at the limit", async () => {
    let closed!: (cut: boolean) => void;
    const cut = new Promise<boolean>((resolve) => {
      closed = resolve;
    });
    const transport = await adapter((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.on("close", () => closed(!res.writableFinished));
      const write = () => {
        while (!res.destroyed && res.write(Buffer.alloc(512, "x"))) {}
        if (!res.destroyed) res.once("drain", write);
      };
      write();
    });
    const error = await failure(transport.call({}, { timeoutMs: 5_000 }));
    expect(error.kind).toBe(AdapterFailureKind.TooLarge);
    // The adapter sees its reply cut off, not finished.
    expect(await cut).toBe(true);
  });

  it("takes a reply of exactly the limit", async () => {
    const body = JSON.stringify({ action: "allow", warnings: ["x".repeat(1024 - 34)] });
    expect(body.length).toBe(1024);
    const transport = await adapter((res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    });
    expect(await transport.call({}, { timeoutMs: 5_000 })).toEqual(JSON.parse(body));
  });

  it("says the connection was cut when the adapter drops it mid-reply", async () => {
    const transport = await adapter((res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 100 });
      res.write('{"action":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const error = await failure(transport.call({}, { timeoutMs: 5_000 }));
    expect(error.kind).toBe(AdapterFailureKind.Unreachable);
    expect(error.message).toBe("the connection was cut mid-reply (aborted)");
  });
});
