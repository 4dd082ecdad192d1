import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { AdapterInfo, AdminError, LoadRequest } from "@powerstrip/protocol";
import { type Listener, listen, parseAddress } from "@powerstrip/proxy-core";
import type { AdapterHost } from "./adapter-host.js";
import { AdapterHostError, type AdapterHostErrorCode } from "./errors.js";
import type { LoadProgress } from "./load-request.js";
import type { ProxyMetrics } from "./observe/metrics.js";
import { parseTraceFilter, type TraceHub } from "./observe/trace.js";

export interface AdminServerOptions {
  /** `unix:///path.sock` (created mode 0600) or `tcp://127.0.0.1:PORT` (loopback only). */
  address: string;
  host: AdapterHost;
  /** Permission bits of the unix socket (default 0o600: whoever loads adapters owns the Docker API). */
  socketMode?: number;
  /** Serves `GET /trace` (a WebSocket) when given. */
  trace?: TraceHub;
  /** Serves `GET /metrics` (Prometheus text) when given. */
  metrics?: ProxyMetrics;
}

export interface RunningAdminServer {
  /** The address listened on (a tcp port 0 is resolved). */
  readonly address: string;
  /** Stops listening, cuts open connections and removes the socket file. */
  close(): Promise<void>;
}

/** Codes of the admin API itself, beyond the host's. */
export const AdminErrorCode = {
  NotFound: "NOT_FOUND",
  MethodNotAllowed: "METHOD_NOT_ALLOWED",
  InvalidRequest: "INVALID_REQUEST",
  BodyTooLarge: "BODY_TOO_LARGE",
  UpgradeRequired: "UPGRADE_REQUIRED",
  Internal: "INTERNAL",
} as const;

/** The HTTP status of every AdapterHostError code. */
export const ADMIN_STATUS: Record<AdapterHostErrorCode, number> = {
  NOT_FOUND: 404,
  NAME_TAKEN: 409,
  BUSY: 409,
  INVALID_URL: 400,
  INVALID_HOOK: 400,
  INVALID_REQUEST: 400,
  HANDSHAKE_FAILED: 502,
  ADAPTER_UNREACHABLE: 502,
  IMAGE_PULL_FAILED: 502,
  ADAPTER_START_FAILED: 502,
  DOCKER_FAILED: 502,
  NO_CONTAINER: 409,
  STATE_WRITE_FAILED: 500,
  STATE_INVALID: 500,
  NOT_IMPLEMENTED: 501,
  CLOSED: 503,
  NOT_ALLOWED: 403,
};

/** The media type of streamed answers: one JSON document per line. */
export const NDJSON = "application/x-ndjson";

/**
 * One line of a streamed load or reload (`Accept: application/x-ndjson`): pull progress lines,
 * then exactly one `adapter` or `error` line.
 */
export type LoadStreamLine = { progress: LoadProgress } | { adapter: AdapterInfo } | { error: AdminError };

/** One line of `GET /adapters/{name}/logs`: a piece of the container's output, or why it broke off. */
export type LogStreamLine = { stream: "stdout" | "stderr"; text: string } | { error: AdminError };

/** Largest request body: an adapters.yml is small. */
const MAX_BODY_BYTES = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The admin API: JSON over HTTP/1.1 on a unix socket (0600) or loopback TCP. A stale socket left
 * by a crash is replaced; a live one is refused.
 *
 *   GET    /adapters                 → 200 AdapterInfo[]
 *   POST   /adapters                 LoadRequest → 201 AdapterInfo
 *   POST   /adapters/import          { file, at? } → 201 AdapterInfo[]
 *   GET    /adapters/{name}          → 200 AdapterInfo
 *   DELETE /adapters/{name}          → 204
 *   POST   /adapters/{name}/reload   → 200 AdapterInfo
 *   GET    /adapters/{name}/logs     ?follow=true&tail=N → 200 ndjson LogStreamLine…
 *   GET    /trace                    ?adapter=N&path=P, WebSocket upgrade → TraceEvent per message
 *   GET    /metrics                  → 200 Prometheus text
 *
 * A load or reload asked with `Accept: application/x-ndjson` streams its progress once there is
 * some (200, LoadStreamLine per line). Every other answer is an AdminError `{ message, code }`.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<RunningAdminServer> {
  const { host } = options;
  const server = createServer((req, res) => {
    handle(host, req, res, options).catch((error: unknown) => send(res, 500, errorBody(error)));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgradeTrace(options.trace, req, socket, head);
  });
  const sockets = new Set<Socket>();
  const listener: Listener = await listen(
    parseAddress(options.address),
    { socketMode: options.socketMode ?? 0o600, socketGroup: undefined },
    (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      server.emit("connection", socket);
    },
  );
  return {
    address: listener.address,
    async close() {
      const closing = listener.close();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closing;
    },
  };
}

async function handle(
  host: AdapterHost,
  req: IncomingMessage,
  res: ServerResponse,
  options: AdminServerOptions,
): Promise<void> {
  try {
    const answer = await route(host, req, res, options);
    if (answer !== STREAMED) send(res, answer.status, answer.body);
  } catch (error) {
    if (error instanceof HttpError) {
      send(res, error.status, { message: error.message, code: error.code }, error.headers);
    } else if (error instanceof AdapterHostError) {
      send(res, ADMIN_STATUS[error.code], { message: error.message, code: error.code });
    } else {
      send(res, 500, errorBody(error));
    }
  }
}

/** The route wrote the answer itself (a stream). */
const STREAMED = Symbol("streamed");

async function route(
  host: AdapterHost,
  req: IncomingMessage,
  res: ServerResponse,
  options: AdminServerOptions,
): Promise<{ status: number; body?: unknown } | typeof STREAMED> {
  const method = req.method ?? "GET";
  const [rawPath, rawQuery] = (req.url ?? "/").split("?") as [string, string | undefined];
  const path = rawPath.replace(/(.)\/$/, "$1");
  if (path === "/metrics" && options.metrics !== undefined) {
    if (method !== "GET") throw notAllowed(method, path, "GET");
    const { contentType, body } = await options.metrics.text();
    res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
    res.end(body);
    return STREAMED;
  }
  if (path === "/trace" && options.trace !== undefined) {
    throw new HttpError(
      426,
      AdminErrorCode.UpgradeRequired,
      "GET /trace is a WebSocket: connect with Upgrade: websocket",
      { upgrade: "websocket" },
    );
  }
  if (path === "/adapters") {
    if (method === "GET") return { status: 200, body: host.list() };
    if (method === "POST") {
      // The host validates it against the LoadRequest schema.
      const request = (await readJson(req)) as LoadRequest;
      return withProgress(req, res, 201, (onProgress) => host.load(request, onProgress));
    }
    throw notAllowed(method, path, "GET, POST");
  }
  if (path === "/adapters/import" && method === "POST") {
    const request = await readJson(req);
    if (typeof request !== "object" || request === null || Array.isArray(request) || !("file" in request)) {
      throw invalid(
        'invalid import request: expected {"file": <the parsed adapters.yml>, "at"?: {name: url}}',
      );
    }
    const { file, at, ...rest } = request as { file: unknown; at?: unknown };
    const extra = Object.keys(rest);
    if (extra.length > 0) throw invalid(`invalid import request: unknown field ${extra.join(", ")}`);
    return { status: 201, body: await host.importLegacyFile(file, { at: parseAt(at) }) };
  }
  const action = /^\/adapters\/([^/]+)\/(reload|logs)$/.exec(path);
  if (action) {
    const name = decodeName(action[1]!);
    if (action[2] === "reload") {
      if (method !== "POST") throw notAllowed(method, path, "POST");
      return withProgress(req, res, 200, (onProgress) => host.reload(name, onProgress));
    }
    if (method !== "GET") throw notAllowed(method, path, "GET");
    await streamLogs(host, name, new URLSearchParams(rawQuery ?? ""), req, res);
    return STREAMED;
  }
  const named = /^\/adapters\/([^/]+)$/.exec(path);
  if (named) {
    const name = decodeName(named[1]!);
    if (method === "GET") return { status: 200, body: host.inspect(name) };
    if (method === "DELETE") {
      await host.unload(name);
      return { status: 204 };
    }
    throw notAllowed(method, path, "GET, DELETE");
  }
  throw new HttpError(404, AdminErrorCode.NotFound, `no such admin API route: ${method} ${path}`);
}

/**
 * Runs a load or reload. A client that accepts ndjson gets a 200 stream as soon as there is
 * progress to show, ending with the adapter or the error; otherwise (or when nothing progressed)
 * the plain answer.
 */
async function withProgress(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  run: (onProgress: (progress: LoadProgress) => void) => Promise<AdapterInfo>,
): Promise<{ status: number; body: AdapterInfo } | typeof STREAMED> {
  if (!(req.headers.accept ?? "").includes(NDJSON)) return { status, body: await run(() => {}) };
  const line = (value: LoadStreamLine) => {
    if (!res.headersSent) res.writeHead(200, { "content-type": NDJSON, "cache-control": "no-cache" });
    res.write(`${JSON.stringify(value)}\n`);
  };
  let adapter: AdapterInfo;
  try {
    adapter = await run((progress) => line({ progress }));
  } catch (error) {
    if (!res.headersSent) throw error;
    line({ error: adminError(error) });
    res.end();
    return STREAMED;
  }
  if (!res.headersSent) return { status, body: adapter };
  line({ adapter });
  res.end();
  return STREAMED;
}

/** `GET /adapters/{name}/logs`: the container's output as ndjson, until it ends or the client leaves. */
async function streamLogs(
  host: AdapterHost,
  name: string,
  query: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const follow = query.get("follow");
  if (follow !== null && !["true", "false", "1", "0"].includes(follow)) {
    throw invalid(`invalid logs request: follow must be true or false, not ${JSON.stringify(follow)}`);
  }
  const tailText = query.get("tail");
  if (tailText !== null && !/^\d{1,9}$/.test(tailText)) {
    throw invalid(`invalid logs request: tail must be a number of lines, not ${JSON.stringify(tailText)}`);
  }
  const abort = new AbortController();
  const options: { follow: boolean; tail?: number; signal: AbortSignal } = {
    follow: follow === "true" || follow === "1",
    signal: abort.signal,
  };
  if (tailText !== null) options.tail = Number(tailText);
  const chunks = await host.logs(name, options);
  res.once("close", () => abort.abort());
  req.socket.setTimeout(0);
  res.writeHead(200, { "content-type": NDJSON, "cache-control": "no-cache" });
  res.flushHeaders();
  try {
    for await (const chunk of chunks) {
      const line: LogStreamLine = { stream: chunk.stream, text: chunk.text };
      res.write(`${JSON.stringify(line)}\n`);
    }
  } catch (error) {
    if (!abort.signal.aborted)
      res.write(`${JSON.stringify({ error: adminError(error) } satisfies LogStreamLine)}\n`);
  }
  res.end();
}

/** `GET /trace` with `Upgrade: websocket`: a trace watcher. Anything else upgrading is refused. */
function upgradeTrace(trace: TraceHub | undefined, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const [rawPath, rawQuery] = (req.url ?? "/").split("?") as [string, string | undefined];
  const refuse = (status: number, code: string, message: string) => {
    const body = JSON.stringify({ message, code } satisfies AdminError);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
  if (trace === undefined || rawPath.replace(/(.)\/$/, "$1") !== "/trace" || req.method !== "GET") {
    refuse(404, AdminErrorCode.NotFound, `no such admin API upgrade: ${req.method} ${rawPath}`);
    return;
  }
  let filter: ReturnType<typeof parseTraceFilter>;
  try {
    filter = parseTraceFilter(new URLSearchParams(rawQuery ?? ""));
  } catch (error) {
    refuse(400, AdminErrorCode.InvalidRequest, `invalid trace request: ${(error as Error).message}`);
    return;
  }
  // A watcher stays as long as it likes.
  socket.setTimeout(0);
  trace.handleUpgrade(req, socket, head, filter);
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 404: "Not Found" };

function adminError(error: unknown): AdminError {
  if (error instanceof HttpError) return { message: error.message, code: error.code };
  if (error instanceof AdapterHostError) return { message: error.message, code: error.code };
  return errorBody(error);
}

function decodeName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid(`invalid adapter name in the path: ${segment}`);
  }
}

function parseAt(at: unknown): Record<string, string> | undefined {
  if (at === undefined) return undefined;
  if (typeof at !== "object" || at === null || Array.isArray(at)) {
    throw invalid("invalid import request: at must map adapter names to URLs");
  }
  for (const [name, url] of Object.entries(at)) {
    if (typeof url !== "string") throw invalid(`invalid import request: at.${name} must be a URL string`);
  }
  return at as Record<string, string>;
}

function invalid(message: string): HttpError {
  return new HttpError(400, AdminErrorCode.InvalidRequest, message);
}

function notAllowed(method: string, path: string, allow: string): HttpError {
  return new HttpError(
    405,
    AdminErrorCode.MethodNotAllowed,
    `${method} is not allowed on ${path} (allowed: ${allow})`,
    {
      allow,
    },
  );
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Answer at once and drop the rest of the body.
        req.off("data", onData);
        req.resume();
        reject(
          new HttpError(
            413,
            AdminErrorCode.BodyTooLarge,
            `request body larger than ${MAX_BODY_BYTES} bytes`,
            {
              connection: "close",
            },
          ),
        );
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => {
      if (size > MAX_BODY_BYTES) return;
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.trim() === "") {
        reject(invalid("the request needs a JSON body"));
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(invalid("the request body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}

function errorBody(error: unknown): AdminError {
  return { message: error instanceof Error ? error.message : String(error), code: AdminErrorCode.Internal };
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
