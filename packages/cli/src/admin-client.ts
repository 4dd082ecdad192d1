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

  /** POST /adapters: resolves once the adapter's hooks are live. */
  async load(load: LoadRequest): Promise<AdapterInfo> {
    return this.checked(await this.send("POST", "/adapters", 201, load), validateAdapterInfo);
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

  private send(method: string, path: string, expected: number, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...this.target,
          method,
          path,
          headers: {
            accept: "application/json",
            ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", (error) => settle(() => reject(this.unreachable(error))));
          res.on("end", () =>
            settle(() => {
              const status = res.statusCode ?? 0;
              const text = Buffer.concat(chunks).toString("utf8");
              let parsed: unknown;
              try {
                parsed = text.trim() === "" ? undefined : JSON.parse(text);
              } catch {
                reject(this.badAnswer(status, text));
                return;
              }
              if (status === expected) {
                resolve(parsed);
                return;
              }
              const refusal = validateAdminError(parsed);
              if (refusal.ok) {
                reject(
                  new AdminClientError(AdminClientErrorCode.Refused, refusal.value.message, {
                    status,
                    adminError: refusal.value,
                  }),
                );
              } else {
                reject(this.badAnswer(status, text));
              }
            }),
          );
        },
      );
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        settle(() =>
          reject(
            new AdminClientError(
              AdminClientErrorCode.Timeout,
              `the Powerstrip admin API at ${this.address} did not answer within ${Math.round(this.timeoutMs / 1000)} s`,
            ),
          ),
        );
        req.destroy();
      }, this.timeoutMs);
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
