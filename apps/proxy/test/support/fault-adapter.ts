// Engine-test support: adapters that misbehave on purpose. Each is a node:http server on a unix
// socket that answers the handshake correctly (so it loads with `powerstrip load --url` like any
// adapter) and then answers its hook calls however the test says: well, garbage, slowly, hugely,
// never, or by dropping the connection.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What the adapter does with one hook call. */
export type Fault =
  /** A well-formed reply (any JSON value, valid or not against the protocol). */
  | { kind: "json"; body: unknown }
  /** These bytes as the body, with this status. */
  | { kind: "raw"; text: string; status?: number }
  /** A well-formed reply, after `ms`. */
  | { kind: "late"; ms: number; body: unknown }
  /** Reads the call and never answers. */
  | { kind: "hang" }
  /** Reads the call, then destroys the connection: a crash mid-call. */
  | { kind: "crash" }
  /** Sends the head and the first bytes of `text`, then destroys the connection. */
  | { kind: "crash-mid-reply"; text: string }
  /** Sends `text` one byte at a time, every `intervalMs`. */
  | { kind: "dribble"; text: string; intervalMs: number }
  /** A JSON string reply of `bytes` bytes with its Content-Length, written as fast as it is read. */
  | { kind: "huge"; bytes: number }
  /** A chunked reply that never ends, written as fast as the proxy reads it. */
  | { kind: "endless" };

export interface FaultAdapterOptions {
  name: string;
  failurePolicy: "fail" | "ignore";
  timeoutMs: number;
  /** Hooks declared in the handshake (pre-hooks, without bodies, by default). */
  hooks: { method: string; path: string; stage?: "pre" | "post"; needsBody?: boolean }[];
  /** What to do with each hook call; may change between calls. */
  fault: (message: Record<string, unknown>) => Fault;
}

export interface FaultAdapter {
  /** `unix:///…/adapter.sock`, for `powerstrip load --url`. */
  readonly url: string;
  /** Hook calls received (handshakes not counted). */
  readonly calls: number;
  /** Bytes written on reply bodies so far (for the endless and huge faults). */
  readonly bytesWritten: number;
  /** Connections the proxy closed while this adapter was still writing a reply. */
  readonly cutWhileWriting: number;
  /** Stops serving: a crashed adapter process. */
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, "x");

export async function startFaultAdapter(options: FaultAdapterOptions): Promise<FaultAdapter> {
  const dir = mkdtempSync(join(tmpdir(), "pst-fault-"));
  const socketPath = join(dir, "adapter.sock");
  const state = { calls: 0, bytesWritten: 0, cutWhileWriting: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const message = JSON.parse(Buffer.concat(parts).toString() || "{}") as Record<string, unknown>;
      if (req.url === "/powerstrip/handshake") {
        sendJson(res, 200, {
          version: "2",
          name: (message.name as string | undefined) ?? options.name,
          failurePolicy: options.failurePolicy,
          timeoutMs: options.timeoutMs,
          hooks: options.hooks.map((h) => ({ stage: "pre", needsBody: false, ...h })),
        });
        return;
      }
      state.calls++;
      answer(req, res, options.fault(message));
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  function answer(req: IncomingMessage, res: ServerResponse, fault: Fault): void {
    switch (fault.kind) {
      case "json":
        sendJson(res, 200, fault.body);
        return;
      case "raw":
        res.writeHead(fault.status ?? 200, { "content-type": "application/json" });
        res.end(fault.text);
        return;
      case "late":
        later(() => sendJson(res, 200, fault.body), fault.ms);
        return;
      case "hang":
        return;
      case "crash":
        req.socket.destroy();
        return;
      case "crash-mid-reply": {
        const bytes = Buffer.from(fault.text);
        res.writeHead(200, { "content-type": "application/json", "content-length": bytes.length });
        res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
        later(() => req.socket.destroy(), 20);
        return;
      }
      case "dribble": {
        const bytes = Buffer.from(fault.text);
        res.writeHead(200, { "content-type": "application/json", "content-length": bytes.length });
        let at = 0;
        const next = () => {
          if (res.destroyed) return;
          res.write(bytes.subarray(at, at + 1));
          at++;
          if (at < bytes.length) later(next, fault.intervalMs);
          else res.end();
        };
        next();
        return;
      }
      case "huge": {
        res.writeHead(200, { "content-type": "application/json", "content-length": fault.bytes });
        // A JSON string: `"xxxx…"`, exactly fault.bytes long.
        let left = fault.bytes - 2;
        res.write('"');
        pump(res, () => {
          if (left <= 0) {
            res.end('"');
            return false;
          }
          const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= piece.length;
          return piece;
        });
        return;
      }
      case "endless":
        res.writeHead(200, { "content-type": "application/json" });
        pump(res, () => CHUNK);
        return;
    }
  }

  /** Writes what `next` gives, with backpressure, until it gives false or the proxy hangs up. */
  function pump(res: ServerResponse, next: () => Buffer | false): void {
    let cut = false;
    res.once("close", () => {
      if (!res.writableFinished) {
        cut = true;
        state.cutWhileWriting++;
      }
    });
    const write = () => {
      while (!cut && !res.destroyed) {
        const piece = next();
        if (piece === false) return;
        state.bytesWritten += piece.length;
        if (!res.write(piece)) {
          res.once("drain", write);
          return;
        }
      }
    };
    write();
  }

  function later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  let closed = false;
  return {
    url: `unix://${socketPath}`,
    get calls() {
      return state.calls;
    },
    get bytesWritten() {
      return state.bytesWritten;
    },
    get cutWhileWriting() {
      return state.cutWhileWriting;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
