import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdapterHost, type RunningAdminServer, startAdminServer } from "@powerstrip/adapter-host";
import { HookRegistry } from "@powerstrip/proxy-core";
import { onTestFinished } from "vitest";
import { type RunIo, run } from "../run.js";

/** A fresh directory under the system temp dir, removed when the current test finishes. */
export function tempDir(prefix = "pst-cli-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What one `run()` printed and returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured output. */
export async function runCli(
  argv: string[],
  env: Record<string, string> = {},
  now?: Date,
): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  const io: RunIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
    ...(now ? { now: () => now } : {}),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** A real admin server over a real AdapterHost, on a temp unix socket. */
export interface Admin {
  address: string;
  registry: HookRegistry;
  host: AdapterHost;
  server: RunningAdminServer;
}

export async function startAdmin(registry = new HookRegistry()): Promise<Admin> {
  const host = new AdapterHost(registry, { handshakeTimeoutMs: 2000 });
  const server = await startAdminServer({ address: `unix://${join(tempDir(), "admin.sock")}`, host });
  onTestFinished(async () => {
    await server.close();
    await host.close();
  });
  return { address: server.address, registry, host, server };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null") as Record<string, unknown>;
}

function reply(res: import("node:http").ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export interface RunningTestAdapter {
  url: string;
  /** Every hook call received, in order. */
  calls: Record<string, unknown>[];
  close(): Promise<void>;
}

async function listenServer(server: Server, where: { socketPath: string } | { tcp: true }): Promise<string> {
  if ("socketPath" in where) {
    await new Promise<void>((resolve) => server.listen(where.socketPath, resolve));
    return `unix://${where.socketPath}`;
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: Server): () => Promise<void> {
  let closed = false;
  return async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/**
 * A current (v2) adapter written by hand with node:http, as any third party could: it answers the
 * handshake with `declare` (its name replaced by the one the proxy asks for) and each hook call
 * with `hook(call)`. `close()` is also called when the test (or the `afterAll` owner) finishes.
 */
export async function startV2Adapter(options: {
  declare: Record<string, unknown>;
  hook?: (call: Record<string, unknown>) => unknown;
  socketPath?: string;
  register?: (close: () => Promise<void>) => void;
}): Promise<RunningTestAdapter> {
  const calls: Record<string, unknown>[] = [];
  const server = createServer(async (req, res) => {
    const body = await readJson(req);
    if (req.url === "/powerstrip/handshake") {
      reply(res, 200, { version: "2", ...options.declare, name: body.name ?? options.declare.name });
      return;
    }
    if (req.url === "/powerstrip/hook") {
      calls.push(body);
      reply(
        res,
        200,
        options.hook ? options.hook(body) : { action: body.stage === "pre" ? "allow" : "pass" },
      );
      return;
    }
    reply(res, 404, { message: `no such endpoint ${req.url}` });
  });
  const url = await listenServer(server, {
    socketPath: options.socketPath ?? join(tempDir(), "adapter.sock"),
  });
  const close = closer(server);
  (options.register ?? onTestFinished)(close);
  return { url, calls, close };
}

/**
 * A 2015 (v1) adapter, as ClusterHQ's prototype adapters were written: a plain HTTP server on a TCP
 * port that answers every POST with `ModifiedClientRequest` (pre) or `ModifiedServerResponse` (post).
 */
export async function startLegacyAdapter(options: {
  pre?: (clientRequest: { Method: string; Request: string; Body: string }) => {
    Method: string;
    Request: string;
    Body: string;
  };
  register?: (close: () => Promise<void>) => void;
}): Promise<RunningTestAdapter> {
  const calls: Record<string, unknown>[] = [];
  const server = createServer(async (req, res) => {
    const body = await readJson(req);
    calls.push({ path: req.url, ...body });
    const clientRequest = body.ClientRequest as { Method: string; Request: string; Body: string };
    if (body.Type === "pre-hook") {
      reply(res, 200, {
        PowerstripProtocolVersion: 1,
        ModifiedClientRequest: options.pre ? options.pre(clientRequest) : clientRequest,
      });
      return;
    }
    reply(res, 200, { PowerstripProtocolVersion: 1, ModifiedServerResponse: body.ServerResponse });
  });
  const url = await listenServer(server, { tcp: true });
  const close = closer(server);
  (options.register ?? onTestFinished)(close);
  return { url, calls, close };
}
