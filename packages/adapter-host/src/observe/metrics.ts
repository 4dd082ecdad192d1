import type { ExchangeRecord, HookCallRecord, Observers, ProxyObserver } from "@powerstrip/proxy-core";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Methods the Engine API uses; anything else is counted as `other` (labels stay bounded). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** Seconds: from a no-op adapter on a unix socket (sub-ms) to the longest adapter timeout (60 s). */
const HOOK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** A labelled metric, as prom-client's Counter and Histogram are. */
interface Labelled<C> {
  labels(...values: string[]): C;
  remove(...values: string[]): void;
}

/**
 * The proxy's Prometheus metrics (names in docs/metrics.md). Counted from the data path's
 * observer records: one per hook call, one per exchange; nothing per chunk. An adapter's series
 * go when it is unloaded (`forget`), so a host that loads adapters under ever new names does not
 * grow without bound.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly hookCalls: Counter<"adapter" | "stage" | "decision" | "shadow">;
  private readonly hookDuration: Histogram<"adapter" | "stage">;
  private readonly hookFailures: Counter<"adapter" | "stage" | "kind">;
  private readonly hookDenials: Counter<"adapter" | "shadow">;
  private readonly hookWarnings: Counter<"adapter">;
  private readonly requests: Counter<"method" | "code" | "hooked">;
  private readonly received: Counter;
  private readonly sent: Counter;
  private readonly tunnelsOpen: Gauge;
  private readonly tunnels: Counter;
  /**
   * Labelled children, kept so a record costs a string join and map lookups rather than
   * prom-client's label validation and hashing on every labels() call.
   */
  private readonly requestChildren = new Map<string, { inc(): void }>();
  /** Each adapter's children, by metric, by label values: found fast, removed together. */
  private readonly adapterChildren = new Map<
    string,
    Map<Labelled<unknown>, Map<string, { child: unknown; values: string[] }>>
  >();
  private detach: (() => void) | null = null;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.hookCalls = new Counter({
      name: "powerstrip_hook_calls_total",
      help: 'Hook calls by adapter, stage and decision (would-* and shadow="true": a shadow adapter\'s unapplied reply).',
      labelNames: ["adapter", "stage", "decision", "shadow"],
      registers,
    });
    this.hookDuration = new Histogram({
      name: "powerstrip_hook_duration_seconds",
      help: "How long adapters took to answer a hook call (or to fail).",
      labelNames: ["adapter", "stage"],
      buckets: HOOK_BUCKETS,
      registers,
    });
    this.hookFailures = new Counter({
      name: "powerstrip_hook_failures_total",
      help: "Failed hook calls by kind (timeout, unreachable, bad-status, not-json, invalid-reply, too-large, overloaded), whatever the failure policy did with them.",
      labelNames: ["adapter", "stage", "kind"],
      registers,
    });
    this.hookDenials = new Counter({
      name: "powerstrip_hook_denials_total",
      help: 'Requests a pre-hook denied (shadow="true": would have denied).',
      labelNames: ["adapter", "shadow"],
      registers,
    });
    this.hookWarnings = new Counter({
      name: "powerstrip_hook_warnings_total",
      help: "Warnings adapters returned.",
      labelNames: ["adapter"],
      registers,
    });
    this.requests = new Counter({
      name: "powerstrip_requests_total",
      help: 'Client requests answered, by method, status class (2xx… or "none" when cut) and whether a hook matched.',
      labelNames: ["method", "code", "hooked"],
      registers,
    });
    this.received = new Counter({
      name: "powerstrip_client_received_bytes_total",
      help: "Bytes read from Docker clients (requests and tunnels, heads included).",
      registers,
    });
    this.sent = new Counter({
      name: "powerstrip_client_sent_bytes_total",
      help: "Bytes written to Docker clients (responses and tunnels, heads included).",
      registers,
    });
    this.tunnelsOpen = new Gauge({
      name: "powerstrip_tunnels_open",
      help: "Upgraded connections and hijacked streams (attach, exec, /session) open now.",
      registers,
    });
    this.tunnels = new Counter({
      name: "powerstrip_tunnels_total",
      help: "Upgraded connections and hijacked streams opened.",
      registers,
    });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: "powerstrip_" });
  }

  /** Starts counting what `observers`' proxy does; the function returned stops it. */
  observe(observers: Observers): () => void {
    const observer: ProxyObserver = {
      hookCall: (record) => this.hookCall(record),
      exchange: (record) => this.exchange(record),
      tunnelOpened: () => {
        this.tunnelsOpen.inc();
        this.tunnels.inc();
      },
      tunnelClosed: (bytes) => {
        this.tunnelsOpen.dec();
        this.received.inc(bytes.bytesIn);
        this.sent.inc(bytes.bytesOut);
      },
    };
    this.detach = observers.add(observer);
    return () => {
      this.detach?.();
      this.detach = null;
    };
  }

  /**
   * Removes every series of `adapter` (it was unloaded). Its calls have all finished by then (the
   * host unregisters it first), so none comes back after.
   */
  forget(adapter: string): void {
    const metrics = this.adapterChildren.get(adapter);
    if (metrics === undefined) return;
    for (const [metric, children] of metrics) {
      for (const { values } of children.values()) metric.remove(...values);
    }
    this.adapterChildren.delete(adapter);
  }

  /** The exposition text (`GET /metrics`). */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private hookCall(record: HookCallRecord): void {
    const { adapter, stage } = record;
    const shadow = record.shadow ? "true" : "false";
    this.child(this.hookCalls, adapter, stage, record.decision, shadow).inc();
    this.child(this.hookDuration, adapter, stage).observe(record.durationMs / 1000);
    if (record.failure !== undefined)
      this.child(this.hookFailures, adapter, stage, record.failure.kind).inc();
    if (record.decision === "deny" || record.decision === "would-deny")
      this.child(this.hookDenials, adapter, shadow).inc();
    if (record.warnings !== undefined && record.warnings.length > 0)
      this.child(this.hookWarnings, adapter).inc(record.warnings.length);
  }

  /** The child of `metric` for an adapter's series (the adapter is its first label), cached. */
  private child<C>(metric: Labelled<C>, adapter: string, ...rest: string[]): C {
    let metrics = this.adapterChildren.get(adapter);
    if (metrics === undefined) {
      metrics = new Map();
      this.adapterChildren.set(adapter, metrics);
    }
    let children = metrics.get(metric);
    if (children === undefined) {
      children = new Map();
      metrics.set(metric, children);
    }
    const key = rest.join(" ");
    let found = children.get(key);
    if (found === undefined) {
      const values = [adapter, ...rest];
      found = { child: metric.labels(...values), values };
      children.set(key, found);
    }
    return found.child as C;
  }

  private exchange(record: ExchangeRecord): void {
    const method = METHODS.has(record.method) ? record.method : "other";
    const code = record.status === 0 ? "none" : `${Math.floor(record.status / 100)}xx`;
    const key = `${method} ${code} ${record.hooked}`;
    let child = this.requestChildren.get(key);
    if (child === undefined) {
      child = this.requests.labels(method, code, String(record.hooked));
      this.requestChildren.set(key, child);
    }
    child.inc();
    if (record.bytesIn > 0) this.received.inc(record.bytesIn);
    if (record.bytesOut > 0) this.sent.inc(record.bytesOut);
  }
}
