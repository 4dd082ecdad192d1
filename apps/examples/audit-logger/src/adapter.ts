import { closeSync, openSync, writeSync } from "node:fs";
import {
  type Adapter,
  defineAdapter,
  type HookKey,
  type PostHookContext,
  type PreHookContext,
} from "@powerstrip/adapter-sdk";

/**
 * The calls it logs. A path pattern's `*` and `{param}` match exactly one segment, so image names
 * with slashes (`team/app`, `registry:5000/team/app`) need a key per depth. Every request matches
 * at most one key (a unit test checks), so each call is logged once per stage.
 */
export const AUDITED_HOOKS = [
  // Containers: create, remove, prune, and what changes or reads one container. Not
  // `* /containers/{id}/*`: that would take in POST /containers/{id}/wait, whose post-hook holds
  // up `docker run` (see the README's limitations).
  "POST /containers/create",
  "POST /containers/prune",
  "DELETE /containers/{id}",
  "POST /containers/{id}/start",
  "POST /containers/{id}/stop",
  "POST /containers/{id}/restart",
  "POST /containers/{id}/kill",
  "POST /containers/{id}/pause",
  "POST /containers/{id}/unpause",
  "POST /containers/{id}/rename",
  "POST /containers/{id}/update",
  "POST /containers/{id}/attach",
  "POST /containers/{id}/exec",
  "* /containers/{id}/archive",
  "GET /containers/{id}/logs",
  "GET /containers/{id}/export",
  // Exec sessions: start, resize, inspect.
  "* /exec/{id}/*",
  // Images: pull and import, load, build, commit, tag, push, remove, prune.
  "POST /images/create",
  "POST /images/load",
  "POST /images/prune",
  "POST /build",
  "POST /build/prune",
  "POST /commit",
  "POST /images/{name}/tag",
  "POST /images/{namespace}/{name}/tag",
  "POST /images/{registry}/{namespace}/{name}/tag",
  "POST /images/{name}/push",
  "POST /images/{namespace}/{name}/push",
  "POST /images/{registry}/{namespace}/{name}/push",
  "DELETE /images/{name}",
  "DELETE /images/{namespace}/{name}",
  "DELETE /images/{registry}/{namespace}/{name}",
  // Volumes and networks.
  "POST /volumes/create",
  "DELETE /volumes/{name}",
  "POST /volumes/prune",
  "POST /networks/create",
  "DELETE /networks/{id}",
  "POST /networks/{id}/*",
  "POST /networks/prune",
  // docker login (the credentials stay in the body, which this adapter never gets).
  "POST /auth",
] as const satisfies readonly HookKey[];

/** One line of the audit log. */
export interface AuditRecord {
  time: string;
  requestId: string;
  stage: "pre" | "post";
  /** The key that matched, e.g. `"POST /containers/{id}/start"`. */
  hook: string;
  method: string;
  /** Without the `/vX.Y` prefix and the query. */
  path: string;
  apiVersion: string | null;
  params: Record<string, string>;
  query: Record<string, string | string[]>;
  userAgent?: string;
  /** post only: Docker's status (or the one an adapter after this one on the way out set). */
  status?: number;
  /** post only: true for streams and upgrades (attach, logs -f, pull progress...). */
  streamed?: boolean;
}

/** Where audit lines go: each call gets one JSON line, without the newline. */
export type AuditSink = (line: string) => void;

export interface AuditLoggerOptions {
  sink: AuditSink;
  /** Default: the time of the call. */
  now?: () => Date;
}

/**
 * A sink writing each line to `stdout` (unless null) and appending it to `file` (when given;
 * opened now, so a bad path throws here). Lines reach the file before the hook answers: a call is
 * on disk before Docker acts on it. After close() lines go to stdout only.
 */
export function auditSink(options: {
  file?: string | undefined;
  stdout?: NodeJS.WritableStream | null;
}): AuditSink & { close(): void } {
  const stdout = options.stdout === undefined ? process.stdout : options.stdout;
  // Opened at once: a path that cannot be written stops the adapter at start, not every call.
  let fd = options.file === undefined ? undefined : openSync(options.file, "a", 0o640);
  const sink = (line: string) => {
    stdout?.write(`${line}\n`);
    if (fd !== undefined) writeSync(fd, `${line}\n`);
  };
  return Object.assign(sink, {
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  });
}

/**
 * An adapter that writes one JSON line per hooked call and stage: pre (the request as Docker will
 * get it) and post (with Docker's status), sharing the request id. It never needs bodies, runs
 * last on the way in and first on the way out, and its failures are ignored: the audit log never
 * blocks Docker.
 */
export function auditLogger(options: AuditLoggerOptions): Adapter {
  const now = options.now ?? (() => new Date());
  const write = (record: AuditRecord) => options.sink(JSON.stringify(record));
  const base = (
    ctx: PreHookContext | PostHookContext,
    request: PreHookContext | PostHookContext["request"],
  ) => {
    const record: AuditRecord = {
      time: now().toISOString(),
      requestId: ctx.requestId,
      stage: ctx.stage,
      hook: ctx.hook,
      method: request.method,
      path: request.path,
      apiVersion: request.apiVersion,
      params: { ...ctx.params },
      query: { ...request.query },
    };
    const userAgent = request.headers["user-agent"];
    if (userAgent !== undefined) record.userAgent = userAgent;
    return record;
  };
  const handlers = {
    needsBody: false,
    pre(ctx: PreHookContext) {
      write(base(ctx, ctx));
    },
    post(ctx: PostHookContext) {
      write({ ...base(ctx, ctx.request), status: ctx.response.status, streamed: ctx.response.streamed });
    },
  };
  return defineAdapter({
    name: "audit-logger",
    version: "0.1.0",
    // The highest priority: last on the way in (it logs what Docker gets), first on the way out
    // (it logs what Docker said).
    priority: 10000,
    failurePolicy: "ignore",
    timeoutMs: 1000,
    hooks: Object.fromEntries(AUDITED_HOOKS.map((key) => [key, handlers])) as Record<
      (typeof AUDITED_HOOKS)[number],
      typeof handlers
    >,
  });
}

/** The adapter as main.ts serves it: lines to stdout, and appended to `AUDIT_LOG` when set. */
export const adapter: Adapter = auditLogger({
  sink: auditSink({ file: process.env.AUDIT_LOG || undefined }),
});
