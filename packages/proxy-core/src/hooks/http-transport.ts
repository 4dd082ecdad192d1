import { isUtf8 } from "node:buffer";
import { Agent, request } from "node:http";
import { AdapterFailure, AdapterFailureKind } from "./adapter-failure.js";
import type { AdapterTransport } from "./registry.js";

/**
 * Largest reply an adapter may send: a reply is a JSON document, not a stream. As large as the
 * default --max-body-bytes, so a whole-body rewrite of the largest default hooked body fits.
 */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

export interface HttpAdapterTransportOptions {
  /** Replies larger than this fail the call as TooLarge, read no further than the limit (default MAX_REPLY_BYTES). */
  maxReplyBytes?: number;
}

export type AdapterEndpoint =
  | { socketPath: string; path: string }
  | { host: string; port: number; path: string };

/**
 * Calls an adapter over HTTP/1.1 (a unix socket or loopback TCP) with keep-alive connections.
 * Control traffic, off the pass-through path, so node:http is fine here.
 */
export class HttpAdapterTransport implements AdapterTransport {
  /**
   * Idle connections are dropped before the adapter's server drops them (Node servers close after
   * 5 s and say so in `Keep-Alive: timeout=5`, which the agent honours only when it has a timeout
   * of its own): a call written into a connection the server is closing would fail for nothing.
   */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 });
  private readonly maxReplyBytes: number;

  constructor(
    private readonly endpoint: AdapterEndpoint,
    options: HttpAdapterTransportOptions = {},
  ) {
    this.maxReplyBytes = options.maxReplyBytes ?? MAX_REPLY_BYTES;
  }

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
          const tooLarge = () => {
            fail(
              new AdapterFailure(
                AdapterFailureKind.TooLarge,
                `reply larger than ${formatBytes(this.maxReplyBytes)}, the limit for adapter replies`,
              ),
            );
            // Stop reading at once: nothing past the limit is ever held.
            req.destroy();
          };
          // A declared length over the limit is refused before any of the body is read.
          if (Number(res.headers["content-length"] ?? 0) > this.maxReplyBytes) {
            tooLarge();
            return;
          }
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxReplyBytes) {
              tooLarge();
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () => {
            const bytes = Buffer.concat(chunks);
            const text = bytes.toString("utf8");
            const status = res.statusCode ?? 0;
            // JSON between systems is UTF-8 (RFC 8259 §8.1): bytes that are not are refused, not
            // turned into U+FFFD inside what would be applied.
            if (status === 200 && !isUtf8(bytes)) {
              fail(new AdapterFailure(AdapterFailureKind.NotJson, "reply is not JSON: it is not UTF-8"));
              return;
            }
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
            fail(
              new AdapterFailure(
                AdapterFailureKind.Unreachable,
                `the connection was cut mid-reply (${error.message})`,
                { cause: error },
              ),
            ),
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

/** 16777216 → "16 MiB"; sizes that are not whole MiB stay in bytes. */
function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}
