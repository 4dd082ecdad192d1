import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";

/** A fresh directory under the system temp dir, removed when the current test finishes. */
export function tempDir(prefix = "pst-host-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What a scripted adapter answers: a JSON reply (200), a raw body with a status, or never. */
export type Scripted = unknown | { raw: string; status?: number } | { hang: true };

export interface Received {
  path: string;
  body: unknown;
}

export interface TestAdapter {
  /** `unix:///…/adapter.sock`, or `http://127.0.0.1:PORT` for TCP ones. */
  url: string;
  /** Every request received, in order. */
  received: Received[];
  close(): Promise<void>;
}

/**
 * A real HTTP adapter, written by hand as a third party would, on a unix socket (or loopback TCP).
 * `answer` scripts the reply to each request by its path. Closed when the test finishes.
 */
export async function startTestAdapter(
  answer: (path: string, body: Record<string, unknown>) => Scripted | Promise<Scripted>,
  options: { tcp?: boolean } = {},
): Promise<TestAdapter> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || "null") as Record<string, unknown>;
      received.push({ path: req.url ?? "", body });
      const reply = (await answer(req.url ?? "", body)) as Record<string, unknown> | undefined;
      if (reply && typeof reply === "object" && "hang" in reply) return;
      if (reply && typeof reply === "object" && "raw" in reply) {
        res.writeHead((reply.status as number | undefined) ?? 200, { "content-type": "application/json" });
        res.end(reply.raw as string);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  let url: string;
  if (options.tcp) {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  } else {
    const socketPath = join(tempDir("pst-adapter-"), "adapter.sock");
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    url = `unix://${socketPath}`;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  onTestFinished(close);
  return { url, received, close };
}

/** A v2 adapter that answers the handshake with `reply` (its name replaced by the one asked for). */
export function v2Adapter(
  reply: Record<string, unknown>,
  hook: (body: Record<string, unknown>) => Scripted = () => ({ action: "allow" }),
): Promise<TestAdapter> {
  return startTestAdapter((path, body) => {
    if (path === "/powerstrip/handshake") return { version: "2", ...reply, name: body.name ?? reply.name };
    return hook(body);
  });
}
