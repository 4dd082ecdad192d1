import net from "node:net";
import { createContainer, removeTracked } from "../lib/docker.mjs";
import { interleave } from "../lib/interleave.mjs";
import { median, percentile, sortedCopy } from "../lib/stats.mjs";
import { TARGETS } from "../lib/targets.mjs";

const ECHO_TIMEOUT_MS = 5_000;

/**
 * Interactive latency through an upgraded connection: `cat` in a TTY container, attached with
 * `Upgrade: tcp` (101), one short line at a time. With a TTY the stream is raw (no multiplexing
 * headers) and each line comes back twice: the terminal's echo, then cat's copy; we time until
 * cat's copy has arrived, so a round trip crosses the container's process, not just the pty.
 */
export async function attach(ctx) {
  const id = await createContainer(ctx.docker, ctx.registry, {
    Image: ctx.opts.image,
    Cmd: ["cat"],
    OpenStdin: true,
    StdinOnce: false, // the container (and its stdin) outlives each attach session
    Tty: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const perRound = Math.ceil(ctx.opts.echoes / ctx.opts.rounds);
  ctx.describe = (r) =>
    `${r.echoes} echoes, p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms, 101 after ${r.handshakeMs.toFixed(2)} ms`;
  try {
    const rounds = await interleave(ctx, "attach echo", {
      warmup: (via) => session(ctx, via, id, { seconds: ctx.opts.warmup, maxEchoes: 20_000 }),
      measure: (via) => session(ctx, via, id, { seconds: 60, maxEchoes: perRound }),
    });
    return { echoesPerRound: perRound, rounds, rows: rows(rounds) };
  } finally {
    await removeTracked(ctx.docker, ctx.registry, [id]);
  }
}

/** One attach session: handshake, then sequential echoes until the count or the time is reached. */
async function session(ctx, via, id, { seconds, maxEchoes }) {
  const t0 = performance.now();
  const conn = await Attached.open(ctx.sockets[via], id);
  const handshakeMs = performance.now() - t0;
  const latencies = [];
  const deadline = performance.now() + seconds * 1000;
  try {
    while (latencies.length < maxEchoes && performance.now() < deadline) {
      latencies.push(await conn.echo(`echo-${String(latencies.length).padStart(6, "0")}`));
    }
  } catch (error) {
    ctx.problem(`attach via ${via}: ${error.message} (after ${latencies.length} echoes)`);
  }
  const closeMs = await conn.close();
  if (closeMs === null)
    ctx.problem(`attach via ${via}: the connection did not close within 5 s of our end()`);
  const sorted = sortedCopy(latencies);
  return {
    echoes: latencies.length,
    handshakeMs,
    closeMs,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

/** A raw attach stream; the 101 head is checked and stripped. */
class Attached {
  static open(socketPath, id) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      socket.setNoDelay(true);
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new Error("no 101 within 5 s")), 5_000);
      const fail = (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const onData = (chunk) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        clearTimeout(timer);
        socket.off("data", onData);
        socket.off("error", fail);
        const statusLine = head.toString("latin1", 0, head.indexOf("\r\n"));
        if (!/^HTTP\/1\.1 101 /.test(statusLine))
          return fail(new Error(`attach answered "${statusLine}", not 101`));
        resolve(new Attached(socket, head.subarray(end + 4)));
      };
      socket.on("data", onData);
      socket.on("error", fail);
      socket.write(
        `POST /containers/${id}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n` +
          "Host: docker\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n",
      );
    });
  }

  constructor(socket, early) {
    this.socket = socket;
    this.received = early;
    this.waiting = null;
    socket.on("data", (chunk) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.waiting?.();
    });
    socket.on("error", () => {});
    socket.on("close", () => this.waiting?.());
  }

  /** Sends `text\n`, resolves with the ms until `text\r\n` has come back twice (echo + cat). */
  echo(text) {
    const expected = Buffer.from(`${text}\r\n${text}\r\n`);
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(
        () => done(new Error(`no echo of "${text}" within ${ECHO_TIMEOUT_MS} ms`)),
        ECHO_TIMEOUT_MS,
      );
      const done = (error) => {
        clearTimeout(timer);
        this.waiting = null;
        if (error) reject(error);
        else resolve(performance.now() - t0);
      };
      this.waiting = () => {
        if (this.received.length < expected.length) {
          if (this.socket.destroyed) done(new Error("stream closed while waiting for an echo"));
          return;
        }
        const got = this.received.subarray(0, expected.length);
        this.received = this.received.subarray(expected.length);
        if (!got.equals(expected)) {
          done(new Error(`echo mismatch: sent "${text}", got ${JSON.stringify(got.toString("latin1"))}`));
        } else done();
      };
      this.socket.write(`${text}\n`);
    });
  }

  /** Half-closes our side and waits for the other side to close: ms, or null after 5 s. */
  close() {
    const t0 = performance.now();
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve(0);
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve(null);
      }, 5_000);
      this.socket.once("close", () => {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      });
      this.socket.end();
    });
  }
}

function rows(rounds) {
  const m = (via, key) => median(rounds[via].map((r) => r[key]));
  const row = (metric, key, target) => ({
    scenario: "attach echo",
    metric,
    direct: m("direct", key),
    proxy: m("proxy", key),
    target,
  });
  return [
    row("p50 ms", "p50Ms", { op: "<=", ratio: TARGETS.attachP50Ratio }),
    row("p99 ms", "p99Ms", null),
    row("101 handshake ms", "handshakeMs", null),
  ];
}
