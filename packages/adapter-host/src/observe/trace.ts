import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { TraceEvent, TraceHookCall } from "@powerstrip/protocol";
import type { HookCallRecord, Observers, ProxyObserver } from "@powerstrip/proxy-core";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * Bytes a watcher may leave unread before its events are dropped: the proxy never waits for a
 * watcher, it tells it later how many it missed.
 */
export const TRACE_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface TraceFilter {
  /** Only these adapters (empty: all). */
  adapters: string[];
  /** Only paths starting with this (without the /vX.Y prefix). */
  path?: string;
}

interface Watcher {
  socket: WebSocket;
  filter: TraceFilter;
  dropped: number;
}

/**
 * The live trace: `GET /trace` upgraded to a WebSocket on the admin API, one JSON TraceEvent per
 * message. It observes the proxy only while someone watches: with no watcher the data path builds
 * no diff of what hooks changed (`wantsChanges`), and publishes nothing here; the records
 * themselves are still built for the metrics and the logs.
 */
export class TraceHub {
  private readonly watchers = new Set<Watcher>();
  private readonly server = new WebSocketServer({ noServer: true });
  private detach: (() => void) | null = null;
  private readonly observer: ProxyObserver = {
    hookCall: (record) => this.publish(record),
    wantsChanges: () => this.watchers.size > 0,
  };

  constructor(
    private readonly observers: Observers,
    private readonly options: { maxBufferedBytes?: number } = {},
  ) {}

  /** How many watchers are connected. */
  get size(): number {
    return this.watchers.size;
  }

  /** Takes over an upgrade request for `/trace?adapter=…&path=…`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, filter: TraceFilter): void {
    this.server.handleUpgrade(req, socket, head, (ws) => this.add(ws, filter));
  }

  close(): void {
    for (const watcher of this.watchers) watcher.socket.terminate();
    this.watchers.clear();
    this.update();
    this.server.close();
  }

  private add(socket: WebSocket, filter: TraceFilter): void {
    const watcher: Watcher = { socket, filter, dropped: 0 };
    this.watchers.add(watcher);
    this.update();
    const remove = () => {
      if (this.watchers.delete(watcher)) this.update();
    };
    socket.once("close", remove);
    socket.once("error", remove);
    // Watchers only listen; whatever they send is ignored.
  }

  /** Observes the proxy while there are watchers, and not at all otherwise. */
  private update(): void {
    if (this.watchers.size > 0 && this.detach === null) this.detach = this.observers.add(this.observer);
    else if (this.watchers.size === 0 && this.detach !== null) {
      this.detach();
      this.detach = null;
    }
  }

  private publish(record: HookCallRecord): void {
    const bound = this.options.maxBufferedBytes ?? TRACE_MAX_BUFFERED_BYTES;
    let text: string | undefined;
    for (const watcher of this.watchers) {
      if (!matches(watcher.filter, record)) continue;
      const { socket } = watcher;
      if (socket.readyState !== socket.OPEN) continue;
      if (socket.bufferedAmount > bound) {
        watcher.dropped++;
        continue;
      }
      if (watcher.dropped > 0) {
        const notice: TraceEvent = {
          type: "dropped",
          time: new Date().toISOString(),
          dropped: watcher.dropped,
        };
        socket.send(JSON.stringify(notice));
        watcher.dropped = 0;
      }
      text ??= JSON.stringify(traceEvent(record));
      socket.send(text);
    }
  }
}

function matches(filter: TraceFilter, record: HookCallRecord): boolean {
  if (filter.adapters.length > 0 && !filter.adapters.includes(record.adapter)) return false;
  if (filter.path !== undefined && !record.path.startsWith(filter.path)) return false;
  return true;
}

/** A record as the TraceEvent schema has it. */
export function traceEvent(record: HookCallRecord): TraceHookCall {
  const event: TraceHookCall = {
    type: "hook",
    time: new Date(record.time).toISOString(),
    requestId: record.requestId,
    adapter: record.adapter,
    stage: record.stage,
    hook: record.hook,
    method: record.method,
    path: record.path,
    durationMs: Math.round(record.durationMs * 1000) / 1000,
    decision: record.decision,
    shadow: record.shadow,
  };
  if (record.status !== undefined) event.status = record.status;
  if (record.message !== undefined) event.message = record.message;
  if (record.failure !== undefined)
    event.failure = {
      kind: record.failure.kind as NonNullable<TraceHookCall["failure"]>["kind"],
      message: record.failure.message,
    };
  if (record.warnings !== undefined && record.warnings.length > 0) event.warnings = record.warnings;
  if (record.changes !== undefined && record.changes.length > 0) event.changes = record.changes;
  return event;
}

/** Parses `?adapter=a&adapter=b&path=/containers`; throws a message for a bad one. */
export function parseTraceFilter(query: URLSearchParams): TraceFilter {
  const filter: TraceFilter = { adapters: query.getAll("adapter").filter((a) => a !== "") };
  const path = query.get("path");
  if (path !== null && path !== "") {
    if (!path.startsWith("/")) throw new Error(`path must start with /, not ${JSON.stringify(path)}`);
    // The trace shows paths without the /vX.Y prefix: accept one, as clients write it.
    filter.path = path.replace(/^\/v\d+\.\d+(?=\/)/, "");
  }
  for (const key of query.keys()) {
    if (key !== "adapter" && key !== "path") throw new Error(`unknown parameter ${key} (adapter, path)`);
  }
  return filter;
}
