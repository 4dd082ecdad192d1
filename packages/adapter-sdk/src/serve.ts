import { unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { ADAPTER_ENDPOINTS } from "@powerstrip/protocol";
import { answerHandshake } from "./handshake.js";
import { answerHook } from "./hooks.js";
import { listen, resolveAddress } from "./listen.js";
import { type Logger, stderrLogger } from "./logger.js";
import { type Answer, createSession, type Session } from "./session.js";
import type { Adapter } from "./types.js";

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface ServeOptions {
  /** A unix socket path; used when POWERSTRIP_ADAPTER_SOCKET is not set. */
  socket?: string;
  /** A TCP port on 127.0.0.1 (0 picks a free one); used when neither the variable nor `socket` is set. */
  port?: number;
  /** Stop gracefully on SIGTERM and SIGINT, then exit 0. Default true. */
  handleSignals?: boolean;
  /** Default: one line per event on stderr, prefixed with the time and the adapter's name. */
  logger?: Logger;
  /** How long close() lets in-flight calls finish before cutting connections. Default 10 000. */
  shutdownTimeoutMs?: number;
  /** Largest call body accepted (413 beyond). Default 64 MiB. */
  maxBodyBytes?: number;
  /** Permission bits of the unix socket. Default 0o660: the proxy's group may connect. */
  socketMode?: number;
}

/** A serving adapter. `close()` finishes in-flight calls, then stops; `await using` works too. */
export interface RunningAdapter {
  /** `unix:///path.sock` or `http://127.0.0.1:PORT`: what `powerstrip load --url` takes. */
  readonly address: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Serves an adapter over HTTP/1.1 on the socket named by POWERSTRIP_ADAPTER_SOCKET, else on
 * `{ socket }`, else on `{ port }` (127.0.0.1). Answers the handshake and hook calls until closed.
 */
export async function serve(adapter: Adapter, options: ServeOptions = {}): Promise<RunningAdapter> {
  const target = resolveAddress(options);
  const session = createSession(adapter, options.logger ?? stderrLogger(() => session.name));
  let closing = false;
  const limits = { maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, closing: () => closing };
  const server = createServer((req, res) => {
    // Once closing, every answer ends its connection, so in-flight calls drain and nothing lingers.
    res.once("finish", () => {
      if (closing) req.socket.end();
    });
    void handleRequest(session, req, res, limits);
  });
  const address = await listen(server, target, options.socketMode ?? 0o660);
  session.log.info(`listening on ${address}`);

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      removeSignalHandlers();
      const force = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000);
      force.unref();
      server.close(async () => {
        clearTimeout(force);
        if (target.kind === "unix") await unlink(target.path).catch(() => {});
        session.log.info("stopped");
        resolve();
      });
      server.closeIdleConnections();
    });
    return closed;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    session.log.info(`${signal}: finishing in-flight calls, then exiting`);
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  const removeSignalHandlers = () => {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  };
  if (options.handleSignals !== false) {
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { address, close, [Symbol.asyncDispose]: close };
}

/**
 * The request listener serve() uses, for mounting an adapter on a server of your own (it answers
 * POST /powerstrip/handshake and POST /powerstrip/hook).
 */
export function createRequestListener(
  adapter: Adapter,
  options: { logger?: Logger; maxBodyBytes?: number } = {},
): RequestListener {
  const session = createSession(adapter, options.logger ?? stderrLogger(() => session.name));
  const limits = { maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, closing: () => false };
  return (req, res) => void handleRequest(session, req, res, limits);
}

const routes: Record<string, (session: Session, message: unknown) => Promise<Answer>> = {
  [ADAPTER_ENDPOINTS.handshake]: answerHandshake,
  [ADAPTER_ENDPOINTS.hook]: answerHook,
};

interface Limits {
  maxBodyBytes: number;
  /** True once close() began: answers then say `Connection: close`. */
  closing(): boolean;
}

async function handleRequest(
  session: Session,
  req: IncomingMessage,
  res: ServerResponse,
  limits: Limits,
): Promise<void> {
  const path = new URL(req.url ?? "/", "http://adapter").pathname;
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  const send = (answer: Answer, headers: Record<string, string> = {}) =>
    sendJson(res, answer, limits.closing() ? { ...headers, Connection: "close" } : headers);
  const refuse = (status: number, reason: string, headers: Record<string, string> = {}) => {
    req.resume();
    send({ status, body: { message: `${session.name}: ${reason}` } }, headers);
  };
  if (route === undefined)
    return refuse(404, `no endpoint ${path}; POST ${Object.keys(routes).join(" or ")}`);
  if (req.method !== "POST") return refuse(405, `${path} takes POST`, { Allow: "POST" });
  let message: unknown;
  try {
    message = await readJson(req, limits.maxBodyBytes);
  } catch (error) {
    return refuse((error as BadBody).status, (error as BadBody).message);
  }
  try {
    send(await route(session, message));
  } catch (error) {
    // Hooks' own errors are answered inside the route; this is the SDK failing.
    session.log.error(`answering ${path} failed: ${(error as Error)?.stack ?? error}`);
    refuse(500, `internal error: ${(error as Error)?.message ?? error}`);
  }
}

class BadBody extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The parsed call body; throws BadBody (413 too large, 400 cut short or not JSON). */
function readJson(req: IncomingMessage, maxBodyBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on("error", () => reject(new BadBody(400, "the call was cut short")));
    req.on("end", () => {
      if (size > maxBodyBytes) return reject(new BadBody(413, `the call body is over ${maxBodyBytes} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(new BadBody(400, `the call body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}

function sendJson(res: ServerResponse, answer: Answer, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const body = `${JSON.stringify(answer.body)}\n`;
  res.writeHead(answer.status, {
    ...headers,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}
