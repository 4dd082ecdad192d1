import net from "node:net";
import { percentile, sortedCopy } from "./stats.mjs";

/**
 * A lean HTTP/1.1 keep-alive load client over a unix socket.
 *
 * Each of `concurrency` connections sends one request, reads the response (Content-Length or
 * chunked framing, parsed incrementally without building strings), and sends the next, until
 * `seconds` have passed or `maxRequests` were started. Requests still in flight after a further
 * `graceSeconds` count as hung and their connections are cut, so a stuck proxy cannot stall the
 * bench.
 *
 * Why not autocannon: its latency histogram has 1 ms resolution (p50 of /_ping reads "0 ms"), and
 * its pure-JS parser costs this process more CPU per request, which on a 2-core machine is taken
 * from dockerd and the proxy under test.
 */
export async function runLoad({
  socketPath,
  request,
  concurrency,
  seconds,
  maxRequests = 2_000_000,
  graceSeconds = 10,
  onWindow = {},
}) {
  const state = {
    request: Buffer.isBuffer(request) ? request : Buffer.from(request, "latin1"),
    started: 0,
    completed: 0,
    errors: 0,
    statuses: {},
    latenciesMs: [],
    maxRequests,
    deadline: 0,
    firstError: null,
  };
  const connections = await Promise.all(
    Array.from({ length: concurrency }, () => LoadConnection.open(socketPath, state)),
  );

  onWindow.start?.();
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  state.deadline = t0 + seconds * 1000;
  const finished = connections.map((c) => c.run());
  const hung = await Promise.race([
    Promise.all(finished).then(() => 0),
    new Promise((r) => setTimeout(r, (seconds + graceSeconds) * 1000).unref()).then(
      () => connections.filter((c) => c.busy).length,
    ),
  ]);
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  onWindow.end?.();
  for (const c of connections) c.close();

  const sorted = sortedCopy(state.latenciesMs);
  return {
    requests: state.completed,
    errors: state.errors,
    hung,
    statuses: state.statuses,
    firstError: state.firstError,
    elapsedS,
    rps: state.completed / elapsedS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    clientCpuMsPerReq: (cpu.user + cpu.system) / 1000 / Math.max(1, state.completed),
  };
}

const HEAD_END = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");
const MAX_HEAD = 64 * 1024;

/** One keep-alive connection and its incremental response parser. */
class LoadConnection {
  static open(socketPath, state) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      socket.once("connect", () => resolve(new LoadConnection(socket, state)));
      socket.once("error", reject);
    });
  }

  constructor(socket, state) {
    this.socket = socket;
    this.state = state;
    this.busy = false;
    this.buf = null;
    this.phase = "head";
    this.remaining = 0;
    this.sentAt = 0;
    this.done = null;
    socket.setNoDelay(true);
    socket.on("data", (chunk) => this.onData(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("connection closed by the server")));
  }

  run() {
    return new Promise((resolve) => {
      this.done = resolve;
      this.sendNext();
    });
  }

  close() {
    this.closing = true;
    this.socket.destroy();
  }

  sendNext() {
    const s = this.state;
    if (performance.now() >= s.deadline || s.started >= s.maxRequests || this.socket.destroyed) {
      this.busy = false;
      this.done?.();
      return;
    }
    s.started++;
    this.busy = true;
    this.phase = "head";
    this.sentAt = performance.now();
    this.socket.write(s.request);
  }

  onData(chunk) {
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf !== null && this.busy && this.step()) {}
    if (this.busy || this.failed) return;
    // One request at a time: anything past the end of a response is a framing error.
    if (this.buf !== null) this.fail(new Error("bytes after the end of a response"));
    else this.sendNext();
  }

  /** Consumes what it can from this.buf; false when more bytes are needed. */
  step() {
    const buf = this.buf;
    switch (this.phase) {
      case "head": {
        const end = buf.indexOf(HEAD_END);
        if (end === -1) {
          if (buf.length > MAX_HEAD) this.fail(new Error("response head too large"));
          return false;
        }
        this.take(end + 4);
        this.readHead(buf.toString("latin1", 0, end));
        return true;
      }
      case "fixed":
      case "chunk-data": {
        const n = Math.min(this.remaining, buf.length);
        this.remaining -= n;
        this.take(n);
        if (this.remaining === 0) {
          if (this.phase === "fixed") this.complete();
          else this.phase = "chunk-crlf";
        }
        return true;
      }
      case "chunk-crlf":
        if (buf.length < 2) return false;
        this.take(2);
        this.phase = "chunk-size";
        return true;
      case "chunk-size":
      case "trailer": {
        const eol = buf.indexOf(CRLF);
        if (eol === -1) return false;
        if (this.phase === "chunk-size") {
          const size = Number.parseInt(buf.toString("latin1", 0, eol), 16);
          this.take(eol + 2);
          if (Number.isNaN(size)) return this.fail(new Error("bad chunk size"));
          this.phase = size === 0 ? "trailer" : "chunk-data";
          this.remaining = size;
        } else {
          this.take(eol + 2);
          if (eol === 0) this.complete(); // the empty line after the last chunk
        }
        return true;
      }
    }
    return false;
  }

  readHead(head) {
    const status = Number(head.slice(9, 12));
    this.state.statuses[status] = (this.state.statuses[status] ?? 0) + 1;
    this.status = status;
    const lower = head.toLowerCase();
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
      this.phase = "chunk-size";
      return;
    }
    const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    if (length === null) {
      this.fail(new Error("response without a length (close-delimited): not supported by the load client"));
      return;
    }
    this.remaining = Number(length[1]);
    this.phase = "fixed";
    if (this.remaining === 0) this.complete();
  }

  take(n) {
    this.buf = n >= this.buf.length ? null : this.buf.subarray(n);
  }

  complete() {
    const s = this.state;
    s.completed++;
    s.latenciesMs.push(performance.now() - this.sentAt);
    if (this.status !== 200) s.errors++;
    this.busy = false; // onData sends the next request once this response's bytes are all read
  }

  fail(error) {
    if (this.closing || this.failed) return false;
    this.failed = true;
    const s = this.state;
    if (this.busy || this.buf !== null) {
      s.errors++;
      s.firstError ??= error.message;
    }
    this.busy = false;
    this.socket.destroy();
    this.done?.();
    return false;
  }
}
