import type { TraceHookCall } from "@powerstrip/protocol";
import type { HookStage } from "../hooks/registry.js";

/**
 * What the data path tells whoever watches it (trace, metrics, logs). The proxy calls these
 * synchronously; an observer must return at once. One that throws is reported (once) and skipped:
 * watching a call never fails it, nor kills the proxy from a socket's close handler.
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

/**
 * One request/response exchange on a client connection, once it is over: its response written, a
 * refusal sent, or the exchange cut (by either side).
 */
export interface ExchangeRecord {
  /**
   * The request's id, as in its hook calls, the trace and the log lines: always there for hooked
   * exchanges; for the others only while an observer asks for ids (`wantsRequestIds`).
   */
  requestId?: string;
  /** "" when the request head could not be read. */
  method: string;
  /** The request target's path as the client sent it (version prefix kept, query left out). */
  path: string;
  /**
   * The status of the answer the client got: the engine's, a hook's, or the proxy's own (a
   * refusal, an error); 0 when the exchange was cut before the client had a whole answer.
   */
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
  /** True when this observer wants `requestId` on every exchange record, pass-through ones too. */
  wantsRequestIds?(): boolean;
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
  /** Some exchange observer wants an id on pass-through exchanges too (one is made for it). */
  requestIds = false;
  private list: ProxyObserver[] = [];
  /** Observers that threw: each is reported once, not once per record. */
  private reported = new WeakSet<ProxyObserver>();

  /** `onError` hears of an observer's first throw (default: console.error). */
  constructor(private readonly onError: (error: unknown) => void = reportObserverError) {}

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
    this.requestIds = this.list.some((o) => o.exchange !== undefined && o.wantsRequestIds?.() === true);
  }

  // Each dispatch catches per observer: one observer's bug neither silences the others nor
  // reaches the data path (a throw from a close handler would end the process).

  hookCall(record: HookCallRecord): void {
    for (const o of this.list) {
      try {
        o.hookCall?.(record);
      } catch (error) {
        this.failed(o, error);
      }
    }
  }

  exchange(record: ExchangeRecord): void {
    for (const o of this.list) {
      try {
        o.exchange?.(record);
      } catch (error) {
        this.failed(o, error);
      }
    }
  }

  tunnelOpened(): void {
    for (const o of this.list) {
      try {
        o.tunnelOpened?.();
      } catch (error) {
        this.failed(o, error);
      }
    }
  }

  tunnelClosed(bytes: { bytesIn: number; bytesOut: number }): void {
    for (const o of this.list) {
      try {
        o.tunnelClosed?.(bytes);
      } catch (error) {
        this.failed(o, error);
      }
    }
  }

  private failed(observer: ProxyObserver, error: unknown): void {
    if (this.reported.has(observer)) return;
    this.reported.add(observer);
    try {
      this.onError(error);
    } catch {
      // Reporting is best effort: nothing more can be done from here.
    }
  }
}

function reportObserverError(error: unknown): void {
  console.error("powerstrip: a data path observer threw (reported once per observer):", error);
}
