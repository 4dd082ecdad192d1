import type { TraceHookCall } from "@powerstrip/protocol";
import type { HookStage } from "../hooks/registry.js";

/**
 * What the data path tells whoever watches it (trace, metrics, logs). The proxy calls these
 * synchronously; an observer must return at once and never throw.
 */

/** What came of one hook call, as `powerstrip trace` names it (the trace-event schema). */
export type HookDecision = TraceHookCall["decision"];

export interface HookCallRecord {
  /** When the call started, ms since the epoch. */
  time: number;
  requestId: string;
  adapter: string;
  stage: HookStage;
  /** The pattern that matched, as declared. */
  hook: string;
  method: string;
  path: string;
  durationMs: number;
  decision: HookDecision;
  shadow: boolean;
  /** deny / would-deny / failed: what the client got (or would have got). */
  status?: number;
  message?: string;
  failure?: { kind: string; message: string };
  warnings?: string[];
  /** Compact lines of what the hook changed; only when an observer asks for details (a trace watcher). */
  changes?: string[];
}

/** One request/response exchange on a client connection, once its response is written. */
export interface ExchangeRecord {
  method: string;
  /** The status the client got (0 when the exchange was cut before any). */
  status: number;
  /** Whether any hook matched it. */
  hooked: boolean;
  /** Bytes read from the client and written to it during the exchange (heads included). */
  bytesIn: number;
  bytesOut: number;
}

export interface ProxyObserver {
  hookCall?(record: HookCallRecord): void;
  exchange?(record: ExchangeRecord): void;
  /** An upgraded connection or hijacked stream became a tunnel. */
  tunnelOpened?(): void;
  /** A tunnel ended; bytes relayed through it since it opened. */
  tunnelClosed?(bytes: { bytesIn: number; bytesOut: number }): void;
  /** True while this observer wants `changes` on hook call records (checked through Observers.refresh). */
  wantsChanges?(): boolean;
}

/**
 * The observers of one proxy. The data path checks the plain booleans before it builds any
 * record, so nothing is built when nobody watches.
 */
export class Observers {
  /** Some observer takes hook call records. */
  hooks = false;
  /** Some observer wants the changes of each hook call (costlier: a diff per call). */
  changes = false;
  /** Some observer takes exchange and tunnel records. */
  exchanges = false;
  private list: ProxyObserver[] = [];

  /** Adds an observer; the function returned removes it. */
  add(observer: ProxyObserver): () => void {
    this.list = [...this.list, observer];
    this.refresh();
    return () => {
      this.list = this.list.filter((o) => o !== observer);
      this.refresh();
    };
  }

  /** Recomputes the flags: call it when an observer's wantsChanges() may have changed. */
  refresh(): void {
    this.hooks = this.list.some((o) => o.hookCall !== undefined);
    this.changes = this.list.some((o) => o.hookCall !== undefined && o.wantsChanges?.() === true);
    this.exchanges = this.list.some(
      (o) => o.exchange !== undefined || o.tunnelOpened !== undefined || o.tunnelClosed !== undefined,
    );
  }

  hookCall(record: HookCallRecord): void {
    for (const o of this.list) o.hookCall?.(record);
  }

  exchange(record: ExchangeRecord): void {
    for (const o of this.list) o.exchange?.(record);
  }

  tunnelOpened(): void {
    for (const o of this.list) o.tunnelOpened?.();
  }

  tunnelClosed(bytes: { bytesIn: number; bytesOut: number }): void {
    for (const o of this.list) o.tunnelClosed?.(bytes);
  }
}
