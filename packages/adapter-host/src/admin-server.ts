import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { AdminError, LoadRequest } from "@powerstrip/protocol";
import { type Listener, listen, parseAddress } from "@powerstrip/proxy-core";
import type { AdapterHost } from "./adapter-host.js";
import { AdapterHostError, type AdapterHostErrorCode } from "./errors.js";

export interface AdminServerOptions {
  /** `unix:///path.sock` (created mode 0600) or `tcp://127.0.0.1:PORT` (loopback only). */
  address: string;
  host: AdapterHost;
  /** Permission bits of the unix socket (default 0o600: whoever loads adapters owns the Docker API). */
  socketMode?: number;
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
  NOT_IMPLEMENTED: 501,
  CLOSED: 503,
};

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
 *   GET    /adapters          → 200 AdapterInfo[]
 *   POST   /adapters          LoadRequest → 201 AdapterInfo
 *   POST   /adapters/import   { file, at? } → 201 AdapterInfo[]
 *   GET    /adapters/{name}   → 200 AdapterInfo
 *   DELETE /adapters/{name}   → 204
 *
 * Every other answer is an AdminError `{ message, code }`.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<RunningAdminServer> {
  const { host } = options;
  const server = createServer((req, res) => {
    handle(host, req, res).catch((error: unknown) => send(res, 500, errorBody(error)));
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

async function handle(host: AdapterHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const { status, body } = await route(host, req);
    send(res, status, body);
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

async function route(host: AdapterHost, req: IncomingMessage): Promise<{ status: number; body?: unknown }> {
  const method = req.method ?? "GET";
  const path = (req.url ?? "/").split("?")[0]!.replace(/(.)\/$/, "$1");
  if (path === "/adapters") {
    if (method === "GET") return { status: 200, body: host.list() };
    if (method === "POST") {
      // The host validates it against the LoadRequest schema.
      return { status: 201, body: await host.load((await readJson(req)) as LoadRequest) };
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
