import { request } from "node:http";
import {
  type AdapterInfo,
  type LoadRequest,
  type ValidationResult,
  validateAdapterInfo,
  validateAdapterList,
  validateAdminError,
} from "@powerstrip/protocol";
import { AdminClientError, AdminClientErrorCode } from "./errors.js";

/** The media type of the admin API's streamed answers: one JSON document per line. */
export const NDJSON = "application/x-ndjson";

/** One line of an image's pull progress, as the engine reports it. */
export interface PullProgress {
  id?: string;
  status: string;
  progress?: string;
}

/** A piece of an adapter container's output. */
export interface LogChunk {
  stream: "stdout" | "stderr";
  text: string;
}

interface Answer {
  status: number;
  streamed: boolean;
  value: unknown;
  text: string;
}

function isProgress(value: unknown): value is PullProgress {
  return typeof value === "object" && value !== null && typeof (value as PullProgress).status === "string";
}

/** Where the admin API listens unless told otherwise (`--admin`, `POWERSTRIP_ADMIN`). */
export const DEFAULT_ADMIN_ADDRESS = "unix:///run/powerstrip/admin.sock";

/** Loads wait for a handshake (bounded by the proxy); this is only a backstop. */
export const DEFAULT_ADMIN_TIMEOUT_MS = 60_000;

type Target = { socketPath: string } | { host: string; port: number };

/** Parses `unix:///path.sock` or `tcp://host:port` (IPv6 hosts in brackets). */
export function parseAdminAddress(address: string): Target {
  if (address.startsWith("unix://")) {
    const socketPath = address.slice("unix://".length);
    if (socketPath.startsWith("/")) return { socketPath };
  }
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(address);
  if (tcp && Number(tcp[2]) <= 65535) return { host: tcp[1]!.replace(/^\[|\]$/g, ""), port: Number(tcp[2]) };
  throw new AdminClientError(
    AdminClientErrorCode.InvalidAddress,
    `invalid admin address ${JSON.stringify(address)}: expected unix:///path.sock or tcp://127.0.0.1:PORT`,
  );
}

/** A client of Powerstrip's admin API: one method per route, answers checked against the schemas. */
export class AdminClient {
  private readonly target: Target;
  private readonly timeoutMs: number;

  constructor(
    readonly address: string,
    options: { timeoutMs?: number } = {},
  ) {
    this.target = parseAdminAddress(address);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS;
  }

  /** GET /adapters: every adapter, in pre-hook order. */
  async list(): Promise<AdapterInfo[]> {
    return this.checked(await this.send("GET", "/adapters", 200), validateAdapterList);
  }

  /** GET /adapters/{name}. */
  async inspect(name: string): Promise<AdapterInfo> {
    return this.checked(await this.send("GET", adapterPath(name), 200), validateAdapterInfo);
  }

  /**
   * POST /adapters: resolves once the adapter's hooks are live. An image load reports the
   * engine's pull progress to `onProgress` as it streams in.
   */
  async load(load: LoadRequest, onProgress?: (progress: PullProgress) => void): Promise<AdapterInfo> {
    return this.withProgress("/adapters", 201, load, onProgress);
  }

  /** POST /adapters/{name}/reload: loads it again with the options it was loaded with. */
  async reload(name: string, onProgress?: (progress: PullProgress) => void): Promise<AdapterInfo> {
    return this.withProgress(`${adapterPath(name)}/reload`, 200, undefined, onProgress);
  }

  /**
   * GET /adapters/{name}/logs: the adapter container's output, chunk by chunk. With `follow` it
   * goes on until the container stops or `signal` aborts.
   */
  async logs(
    name: string,
    options: { follow?: boolean; tail?: number; signal?: AbortSignal },
    onChunk: (chunk: LogChunk) => void,
  ): Promise<void> {
    const query = new URLSearchParams();
    if (options.follow) query.set("follow", "true");
    if (options.tail !== undefined) query.set("tail", String(options.tail));
    const search = query.toString();
    const path = `${adapterPath(name)}/logs${search === "" ? "" : `?${search}`}`;
    let failure: AdminClientError | undefined;
    const answer = await this.exchange("GET", path, undefined, {
      accept: NDJSON,
      // Following waits for output as long as it takes; otherwise the usual backstop, between chunks.
      idleTimeoutMs: options.follow ? undefined : this.timeoutMs,
      signal: options.signal,
      onLine: (line) => {
        const value = line as { stream?: unknown; text?: unknown; error?: unknown };
        if ((value.stream === "stdout" || value.stream === "stderr") && typeof value.text === "string") {
          onChunk({ stream: value.stream, text: value.text });
        } else if (value.error !== undefined) {
          failure ??= this.refusedBy(200, value.error) ?? this.badAnswer(200, JSON.stringify(line));
        } else {
          failure ??= this.badAnswer(200, JSON.stringify(line));
        }
      },
    });
    if (failure) throw failure;
    if (!answer.streamed) this.expect(answer, 200);
  }

  /** DELETE /adapters/{name}. */
  async unload(name: string): Promise<void> {
    await this.send("DELETE", adapterPath(name), 204);
  }

  /** POST /adapters/import: a parsed 2015 adapters.yml, and where its adapters listen here. */
  async importLegacyFile(file: unknown, at?: Record<string, string>): Promise<AdapterInfo[]> {
    const body = at === undefined || Object.keys(at).length === 0 ? { file } : { file, at };
    return this.checked(await this.send("POST", "/adapters/import", 201, body), validateAdapterList);
  }

  private checked<T>(value: unknown, validate: (value: unknown) => ValidationResult<T>): T {
    const result = validate(value);
    if (result.ok) return result.value;
    throw new AdminClientError(
      AdminClientErrorCode.BadResponse,
      `the admin API at ${this.address} answered something unexpected: ${result.errors.join("; ")}`,
    );
  }

  /** A load or reload, asking for a progress stream: `{progress}` lines, then `{adapter}` or `{error}`. */
  private async withProgress(
    path: string,
    expected: number,
    body: unknown,
    onProgress: ((progress: PullProgress) => void) | undefined,
  ): Promise<AdapterInfo> {
    let result: unknown;
    let failure: AdminClientError | undefined;
    const answer = await this.exchange("POST", path, body, {
      accept: `${NDJSON}, application/json`,
      idleTimeoutMs: this.timeoutMs,
      onLine: (line) => {
        const value = line as { progress?: unknown; adapter?: unknown; error?: unknown };
        if (isProgress(value.progress)) onProgress?.(value.progress);
        else if (value.adapter !== undefined) result = value.adapter;
        else if (value.error !== undefined)
          failure ??= this.refusedBy(200, value.error) ?? this.badAnswer(200, JSON.stringify(line));
        else failure ??= this.badAnswer(200, JSON.stringify(line));
      },
    });
    if (!answer.streamed) return this.checked(this.expect(answer, expected), validateAdapterInfo);
    if (failure) throw failure;
    if (result === undefined) {
      throw new AdminClientError(
        AdminClientErrorCode.BadResponse,
        `the admin API at ${this.address} ended the stream without saying how the load went`,
      );
    }
    return this.checked(result, validateAdapterInfo);
  }

  private async send(method: string, path: string, expected: number, body?: unknown): Promise<unknown> {
    return this.expect(
      await this.exchange(method, path, body, { accept: "application/json", idleTimeoutMs: this.timeoutMs }),
      expected,
    );
  }

  /** The value of a plain answer with the expected status; otherwise the AdminError as a refusal. */
  private expect(answer: Answer, expected: number): unknown {
    if (answer.status === expected) return answer.value;
    throw this.refusedBy(answer.status, answer.value) ?? this.badAnswer(answer.status, answer.text);
  }

  private refusedBy(status: number, value: unknown): AdminClientError | undefined {
    const refusal = validateAdminError(value);
    if (!refusal.ok) return undefined;
    return new AdminClientError(AdminClientErrorCode.Refused, refusal.value.message, {
      status,
      adminError: refusal.value,
    });
  }

  /**
   * One request. An ndjson answer is handed to `onLine` line by line as it arrives; any other
   * answer is read whole and parsed as JSON. `idleTimeoutMs` bounds the wait for each chunk.
   */
  private exchange(
    method: string,
    path: string,
    body: unknown,
    options: {
      accept: string;
      idleTimeoutMs: number | undefined;
      signal?: AbortSignal | undefined;
      onLine?: (line: unknown) => void;
    },
  ): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const arm = () => {
        if (options.idleTimeoutMs === undefined) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          settle(() =>
            reject(
              new AdminClientError(
                AdminClientErrorCode.Timeout,
                `the Powerstrip admin API at ${this.address} did not answer within ${Math.round(options.idleTimeoutMs! / 1000)} s`,
              ),
            ),
          );
          req.destroy();
        }, options.idleTimeoutMs);
      };
      const req = request(
        {
          ...this.target,
          method,
          path,
          headers: {
            accept: options.accept,
            ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
          },
        },
        (res) => {
          arm();
          const status = res.statusCode ?? 0;
          const streamed =
            (res.headers["content-type"] ?? "").startsWith(NDJSON) && options.onLine !== undefined;
          const chunks: Buffer[] = [];
          let pending = "";
          const line = (text: string) => {
            if (text.trim() === "") return;
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              settle(() => reject(this.badAnswer(status, text)));
              req.destroy();
              return;
            }
            options.onLine!(parsed);
          };
          res.on("data", (chunk: Buffer) => {
            arm();
            if (!streamed) {
              chunks.push(chunk);
              return;
            }
            pending += chunk.toString("utf8");
            let newline = pending.indexOf("\n");
            while (newline !== -1 && !settled) {
              line(pending.slice(0, newline));
              pending = pending.slice(newline + 1);
              newline = pending.indexOf("\n");
            }
          });
          res.on("error", (error) => settle(() => reject(this.unreachable(error))));
          res.on("end", () =>
            settle(() => {
              if (streamed) {
                line(pending);
                resolve({ status, streamed: true, value: undefined, text: "" });
                return;
              }
              const text = Buffer.concat(chunks).toString("utf8");
              let value: unknown;
              try {
                value = text.trim() === "" ? undefined : JSON.parse(text);
              } catch {
                reject(this.badAnswer(status, text));
                return;
              }
              resolve({ status, streamed: false, value, text });
            }),
          );
        },
      );
      const onAbort = () => {
        settle(() => resolve({ status: 200, streamed: true, value: undefined, text: "" }));
        req.destroy();
      };
      if (options.signal?.aborted) onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      arm();
      req.on("error", (error) => settle(() => reject(this.unreachable(error))));
      req.end(payload);
    });
  }

  private unreachable(error: NodeJS.ErrnoException): AdminClientError {
    if (error.code === "EACCES" || error.code === "EPERM") {
      return new AdminClientError(
        AdminClientErrorCode.PermissionDenied,
        `permission denied on the Powerstrip admin API at ${this.address}: run powerstrip as root (the socket is mode 0600)`,
        { cause: error },
      );
    }
    return new AdminClientError(
      AdminClientErrorCode.Unreachable,
      `cannot reach the Powerstrip admin API at ${this.address}: is powerstrip-proxy running?`,
      { cause: error },
    );
  }

  private badAnswer(status: number, text: string): AdminClientError {
    const excerpt = text.trim().slice(0, 120);
    return new AdminClientError(
      AdminClientErrorCode.BadResponse,
      `the admin API at ${this.address} answered HTTP ${status}${excerpt ? ` ${JSON.stringify(excerpt)}` : ""}`,
      { status },
    );
  }
}

function adapterPath(name: string): string {
  return `/adapters/${encodeURIComponent(name)}`;
}
