import { Agent, request } from "node:http";
import { AdapterFailure, AdapterFailureKind } from "./adapter-failure.js";
import type { AdapterTransport } from "./registry.js";

/** Largest reply an adapter may send: a reply is a JSON document, not a stream. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

export type AdapterEndpoint =
  | { socketPath: string; path: string }
  | { host: string; port: number; path: string };

/**
 * Calls an adapter over HTTP/1.1 (a unix socket or loopback TCP) with keep-alive connections.
 * Control traffic, off the pass-through path, so node:http is fine here.
 */
export class HttpAdapterTransport implements AdapterTransport {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(private readonly endpoint: AdapterEndpoint) {}

  call(message: unknown, options: { timeoutMs: number; path?: string }): Promise<unknown> {
    const body = Buffer.from(JSON.stringify(message));
    const target =
      "socketPath" in this.endpoint
        ? { socketPath: this.endpoint.socketPath }
        : { host: this.endpoint.host, port: this.endpoint.port };
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...target,
          agent: this.agent,
          method: "POST",
          path: options.path ?? this.endpoint.path,
          headers: { "content-type": "application/json", "content-length": body.length, host: "adapter" },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_REPLY_BYTES) {
              fail(
                new AdapterFailure(AdapterFailureKind.TooLarge, `reply larger than ${MAX_REPLY_BYTES} bytes`),
              );
              req.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              if (status === 200) {
                const shown = JSON.stringify(text.slice(0, 80));
                fail(new AdapterFailure(AdapterFailureKind.NotJson, `reply is not JSON: ${shown}`));
                return;
              }
            }
            if (status !== 200) {
              const message = (parsed as { message?: unknown } | undefined)?.message;
              const said = typeof message === "string" ? message : text.trim().slice(0, 500);
              const summary = `answered HTTP ${status}${said ? `: ${said}` : ""}`;
              fail(new AdapterFailure(AdapterFailureKind.BadStatus, summary, { status, said }));
              return;
            }
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(parsed);
          });
          res.on("error", (error) =>
            fail(new AdapterFailure(AdapterFailureKind.Unreachable, error.message, { cause: error })),
          );
        },
      );
      let settled = false;
      const fail = (error: AdapterFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new AdapterFailure(AdapterFailureKind.Timeout, `timed out after ${options.timeoutMs} ms`));
        req.destroy();
      }, options.timeoutMs);
      req.on("error", (error: NodeJS.ErrnoException) =>
        fail(
          new AdapterFailure(
            AdapterFailureKind.Unreachable,
            `cannot reach it: ${error.code ?? error.message}`,
            { cause: error },
          ),
        ),
      );
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
