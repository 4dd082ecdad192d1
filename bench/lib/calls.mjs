import net from "node:net";
import { percentile, sortedCopy } from "./stats.mjs";

/**
 * Exactly `calls` HTTP/1.1 requests over `concurrency` keep-alive connections on a unix socket,
 * each answered, cut or timed out: nothing is left uncounted. Unlike load.mjs (a fixed time
 * window, bodies skipped), every response body is read whole and handed to `classify(status,
 * body)`, which names its category (e.g. "docker", "policy"); a response that never completes
 * within `callTimeoutMs` is "hung", a connection closed mid-call is "cut". After either, the
 * connection is replaced and the run goes on.
 *
 * Returns { calls, categories: {name: count}, hung, cut, lost, firstOf: {category: example},
 * elapsedS, rps, p50Ms, p99Ms, byCategory: {name: {p50Ms, p99Ms}} } where lost = calls -
 * everything counted (0 unless this client itself is broken); latencies are of answered calls.
 */
export async function runCalls({ socketPath, request, calls, concurrency, callTimeoutMs, classify }) {
  const state = {
    request: Buffer.from(request, "latin1"),
    remaining: calls,
    categories: {},
    firstOf: {},
    hung: 0,
    cut: 0,
    latenciesMs: [],
    latenciesByCategory: {},
  };
  const record = (category, example) => {
    state.categories[category] = (state.categories[category] ?? 0) + 1;
    state.firstOf[category] ??= example;
  };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let connection = await CallConnection.open(socketPath);
      while (state.remaining > 0) {
        state.remaining--;
        const sentAt = performance.now();
        const outcome = await connection.call(state.request, callTimeoutMs);
        if (outcome.kind === "response") {
          const latency = performance.now() - sentAt;
          state.latenciesMs.push(latency);
          const category = classify(outcome.status, outcome.body);
          state.latenciesByCategory[category] ??= [];
          state.latenciesByCategory[category].push(latency);
          record(category, `${outcome.status} ${outcome.body.toString("utf8", 0, 300)}`);
          if (!outcome.reusable) connection = await connection.replace(socketPath);
          continue;
        }
        if (outcome.kind === "hung") state.hung++;
        else {
          state.cut++;
          state.firstOf.cut ??= outcome.reason;
        }
        connection = await connection.replace(socketPath);
      }
      connection.close();
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  const counted = Object.values(state.categories).reduce((a, b) => a + b, 0) + state.hung + state.cut;
  const sorted = sortedCopy(state.latenciesMs);
  return {
    calls,
    categories: state.categories,
    hung: state.hung,
    cut: state.cut,
    lost: calls - counted,
    firstOf: state.firstOf,
    elapsedS,
    rps: calls / elapsedS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    byCategory: Object.fromEntries(
      Object.entries(state.latenciesByCategory).map(([category, values]) => {
        const ordered = sortedCopy(values);
        return [category, { p50Ms: percentile(ordered, 50), p99Ms: percentile(ordered, 99) }];
      }),
    ),
  };
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** One keep-alive connection, one call at a time, with an incremental response parser. */
class CallConnection {
  static open(socketPath) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new CallConnection(socket));
      });
      socket.once("error", reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.waiter = null;
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.waiter?.();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  async replace(socketPath) {
    this.close();
    return CallConnection.open(socketPath);
  }

  close() {
    this.socket.destroy();
  }

  /** Resolves with {kind: "response", status, body, reusable} | {kind: "hung"} | {kind: "cut", reason}. */
  call(request, timeoutMs) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish({ kind: "hung" }), timeoutMs);
      const finish = (outcome) => {
        clearTimeout(timer);
        this.waiter = null;
        resolve(outcome);
      };
      this.waiter = () => {
        const parsed = this.parse();
        if (parsed !== null) finish(parsed);
        else if (this.closed) finish({ kind: "cut", reason: "connection closed before a complete response" });
      };
      this.socket.write(request);
    });
  }

  /** A complete response off the front of the buffer, or null. */
  parse() {
    const end = this.buf.indexOf(HEAD_END);
    if (end === -1) return null;
    const head = this.buf.toString("latin1", 0, end);
    const status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    const reusable = !/\r\nconnection:\s*close/.test(lower);
    let at = end + 4;
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
      const parts = [];
      for (;;) {
        const eol = this.buf.indexOf("\r\n", at);
        if (eol === -1) return null;
        const size = Number.parseInt(this.buf.toString("latin1", at, eol), 16);
        if (this.buf.length < eol + 2 + size + 2) return null;
        if (size === 0) {
          this.buf = this.buf.subarray(eol + 4);
          return { kind: "response", status, body: Buffer.concat(parts), reusable };
        }
        parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
    }
    const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    const size = length ? Number(length[1]) : 0;
    if (this.buf.length < at + size) return null;
    const body = this.buf.subarray(at, at + size);
    this.buf = this.buf.subarray(at + size);
    return { kind: "response", status, body, reusable };
  }
}
