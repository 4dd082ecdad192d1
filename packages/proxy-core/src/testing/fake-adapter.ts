import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { HttpAdapterTransport } from "../hooks/http-transport.js";
import type { HookDeclaration, HookedAdapter } from "../hooks/registry.js";
import { tempDir } from "./temp-dir.js";

/** A real HTTP adapter on a unix socket whose hook replies a test scripts. */
export interface FakeAdapter {
  adapter: HookedAdapter;
  /** Every message the proxy sent, in order. */
  calls: Record<string, unknown>[];
  close(): Promise<void>;
}

export type FakeReply = unknown | { raw: string; status?: number } | { hang: true } | { destroy: true };

export async function startFakeAdapter(options: {
  name: string;
  hooks: (Omit<HookDeclaration, "needsBody"> & { needsBody?: boolean })[];
  priority?: number;
  failurePolicy?: "fail" | "ignore";
  timeoutMs?: number;
  protocolVersion?: "1" | "2";
  /** The credentials grant (see HookedAdapter.receivesCredentials). */
  receivesCredentials?: boolean;
  reply: (message: Record<string, unknown>) => FakeReply | Promise<FakeReply>;
}): Promise<FakeAdapter> {
  const socketPath = join(tempDir("pst-adapter-"), "adapter.sock");
  const calls: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const message = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      calls.push(message);
      const reply = (await options.reply(message)) as Record<string, unknown> | undefined;
      if (reply && "hang" in reply) return;
      if (reply && "destroy" in reply) {
        req.socket.destroy();
        return;
      }
      if (reply && "raw" in reply) {
        res.writeHead((reply.status as number) ?? 200, { "content-type": "application/json" });
        res.end(reply.raw as string);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const transport = new HttpAdapterTransport({
    socketPath,
    path: options.protocolVersion === "1" ? "/v1/extension" : "/powerstrip/hook",
  });
  const adapter: HookedAdapter = {
    name: options.name,
    priority: options.priority ?? 1000,
    failurePolicy: options.failurePolicy ?? "fail",
    timeoutMs: options.timeoutMs ?? 2000,
    protocolVersion: options.protocolVersion ?? "2",
    hooks: options.hooks.map((h) => ({ needsBody: true, ...h })),
    transport,
  };
  if (options.receivesCredentials) adapter.receivesCredentials = true;
  return {
    adapter,
    calls,
    async close() {
      transport.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
