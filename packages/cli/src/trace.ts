import { type TraceEvent, validateAdminError, validateTraceEvent } from "@powerstrip/protocol";
import WebSocket from "ws";
import { parseAdminAddress } from "./admin-client.js";
import { AdminClientError, AdminClientErrorCode } from "./errors.js";

export interface TraceOptions {
  adapters?: string[];
  path?: string;
  /** Stops watching (Ctrl-C on the command line). */
  signal?: AbortSignal;
  /** Called once the stream is open (tests wait for it). */
  onOpen?: () => void;
}

/** The WebSocket URL of `GET /trace` at an admin address: `ws+unix:///path.sock:/trace?…` or `ws://host:port/trace?…`. */
export function traceUrl(address: string, options: Pick<TraceOptions, "adapters" | "path">): string {
  const target = parseAdminAddress(address);
  const query = new URLSearchParams();
  for (const adapter of options.adapters ?? []) query.append("adapter", adapter);
  if (options.path !== undefined) query.set("path", options.path);
  const search = query.toString() === "" ? "" : `?${query}`;
  if ("socketPath" in target) return `ws+unix://${target.socketPath}:/trace${search}`;
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `ws://${host}:${target.port}/trace${search}`;
}

/**
 * Watches the live trace until `signal` aborts or the proxy goes away: each event, checked against
 * the TraceEvent schema, goes to `onEvent`. Resolves on abort; rejects with AdminClientError when
 * the admin API cannot be reached, refuses, or closes the stream.
 */
export function watchTrace(
  address: string,
  options: TraceOptions,
  onEvent: (event: TraceEvent) => void,
): Promise<void> {
  const url = traceUrl(address, options);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve();
      return;
    }
    const socket = new WebSocket(url, { perMessageDeflate: false });
    let settled = false;
    const settle = (error?: AdminClientError) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => {
      socket.terminate();
      settle();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("open", () => options.onOpen?.());
    socket.on("message", (data) => {
      let value: unknown;
      try {
        value = JSON.parse(data.toString());
      } catch {
        socket.terminate();
        settle(
          new AdminClientError(AdminClientErrorCode.BadResponse, "the trace sent a message that is not JSON"),
        );
        return;
      }
      const checked = validateTraceEvent(value);
      if (!checked.ok) {
        socket.terminate();
        settle(
          new AdminClientError(
            AdminClientErrorCode.BadResponse,
            `the trace sent an event that does not fit the TraceEvent schema: ${checked.errors.join("; ")}`,
          ),
        );
        return;
      }
      onEvent(checked.value);
    });
    socket.on("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        let message = `the admin API refused the trace (HTTP ${res.statusCode})`;
        try {
          const body = validateAdminError(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          if (body.ok) message = body.value.message;
        } catch {
          // not an AdminError: the status says it
        }
        socket.terminate();
        settle(new AdminClientError(AdminClientErrorCode.Refused, message, { status: res.statusCode }));
      });
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      settle(connectionError(address, error));
    });
    socket.on("close", () => {
      if (!options.signal?.aborted)
        settle(
          new AdminClientError(AdminClientErrorCode.Unreachable, "the proxy closed the trace (it stopped?)"),
        );
    });
  });
}

function connectionError(address: string, error: NodeJS.ErrnoException): AdminClientError {
  if (error.code === "EACCES") {
    return new AdminClientError(
      AdminClientErrorCode.PermissionDenied,
      `cannot open the admin API at ${address}: permission denied`,
    );
  }
  return new AdminClientError(
    AdminClientErrorCode.Unreachable,
    `cannot reach the admin API at ${address}: ${error.code ?? error.message} (is powerstrip-proxy running?)`,
  );
}

/**
 * One line per event, columns aligned: time, request id (first 8), stage, adapter, decision,
 * duration, method and path, then what it said and changed.
 */
export function formatTraceEvent(event: TraceEvent): string {
  if (event.type === "dropped") {
    return `${clock(event.time)}  -- ${event.dropped} ${event.dropped === 1 ? "event" : "events"} dropped (this watcher read too slowly)\n`;
  }
  const details: string[] = [];
  if (event.status !== undefined) details.push(String(event.status));
  if (event.message !== undefined) details.push(JSON.stringify(event.message));
  if (event.failure !== undefined) details.push(`${event.failure.kind}: ${event.failure.message}`);
  for (const warning of event.warnings ?? []) details.push(`warning: ${warning}`);
  if (event.changes !== undefined) details.push(event.changes.join("; "));
  const columns = [
    clock(event.time),
    event.requestId.slice(0, 8).padEnd(8),
    event.stage.padEnd(4),
    event.adapter.padEnd(20),
    event.decision.padEnd(15),
    `${event.durationMs.toFixed(1)}ms`.padStart(9),
    `${event.method} ${event.path}`,
  ];
  const line = columns.join("  ");
  return `${details.length === 0 ? line : `${line}  ${details.join("  ")}`}\n`;
}

/** `2026-11-29T10:15:02.114Z` → `10:15:02.114` (UTC, as the events carry it). */
function clock(time: string): string {
  return time.slice(11, 23);
}
