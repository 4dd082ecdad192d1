import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { createMany, removeTracked } from "../lib/docker.mjs";
import { processCpuMs, processMemKiB, resetPeakRss } from "../lib/proc.mjs";
import { exitProblems, startProxy } from "../lib/proxy.mjs";

const CONTAINERS = 10;
/** Streams opened at a time: the engine sets each up (a log reader, an attach) before the next. */
const OPEN_BATCH = 25;
/** A stream that has received nothing for this long is not being held (the containers print every second). */
const STALE_MS = 5_000;
/** Memory is flat when RSS at the end of the hold is within this of RSS once every stream was open. */
const FLAT_GROWTH_KIB = 8 * 1024;

/**
 * `--streams` (500) long-lived streams held through a fresh proxy for `--hold` (30) seconds: half
 * `logs -f` (GET /containers/{id}/logs?follow=1, a streamed response) and half attach (POST
 * /containers/{id}/attach with Upgrade: tcp, a 101 tunnel), spread over 10 containers that each
 * print a line every second. The proxy's RSS is sampled every second; every stream must still be
 * open and receiving at the end; after they are closed, the proxy's file descriptors must be back
 * to where they started.
 */
export async function streams(ctx) {
  const count = ctx.opts.streams;
  const holdS = ctx.opts.hold;
  let proxy;
  const stop = async () => proxy?.stop();
  ctx.stoppers.add(stop);
  let ids = [];
  const opened = [];
  const result = { rows: [] };
  try {
    proxy = await startProxy({ cmd: ctx.opts.proxyCmd, dockerSocket: ctx.opts.dockerSocket });
    ctx.log(`  proxy: pid ${proxy.pid} on ${proxy.socketPath}`);
    // Each stream holds two descriptors in the proxy: the client's socket and the engine's.
    const limit = openFilesLimit(proxy.pid);
    result.fdLimit = limit;
    if (limit < 2 * count + 64) {
      throw new Error(
        `the proxy may open ${limit} files (ulimit -n); ${count} streams need ${2 * count + 64}`,
      );
    }
    ids = await createMany(ctx.docker, ctx.registry, CONTAINERS, {
      Image: ctx.opts.image,
      Cmd: ["sh", "-c", "while :; do echo tick; sleep 1; done"],
    });
    const fdsIdle = fdCount(proxy.pid);
    const rssIdle = processMemKiB(proxy.pid).rss;

    ctx.log(
      `  opening ${count} streams (${Math.ceil(count / 2)} logs -f, ${Math.floor(count / 2)} attach) …`,
    );
    const openStarted = performance.now();
    for (let i = 0; i < count; i += OPEN_BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + OPEN_BATCH); j++) {
        batch.push(Stream.open(proxy.socketPath, j % 2 === 0 ? "logs" : "attach", ids[j % ids.length]));
      }
      opened.push(...(await Promise.all(batch)));
    }
    const openS = (performance.now() - openStarted) / 1000;
    const refused = opened.filter((s) => s.error);
    if (refused.length) {
      ctx.problem(`streams: ${refused.length} of ${count} did not open (first: ${refused[0].error})`);
    }

    const rssOpen = processMemKiB(proxy.pid).rss;
    const fdsOpen = fdCount(proxy.pid);
    resetPeakRss(proxy.pid);
    const cpuBefore = processCpuMs(proxy.pid);
    ctx.log(`  holding them for ${holdS} s, RSS sampled every second …`);
    const samples = [];
    for (let s = 1; s <= holdS; s++) {
      await new Promise((r) => setTimeout(r, 1_000));
      samples.push({ s, rssKiB: processMemKiB(proxy.pid).rss });
    }
    const cpuMs = processCpuMs(proxy.pid) - cpuBefore;
    const end = processMemKiB(proxy.pid);
    const now = Date.now();
    const live = opened.filter((s) => !s.error);
    const closed = live.filter((s) => s.closed);
    const stale = live.filter((s) => !s.closed && now - s.lastDataAt > STALE_MS);
    if (closed.length) ctx.problem(`streams: ${closed.length} closed during the hold`);
    if (stale.length)
      ctx.problem(`streams: ${stale.length} received nothing in the last ${STALE_MS / 1000} s`);

    for (const stream of opened) stream.close();
    await new Promise((r) => setTimeout(r, 2_000));
    const rssClosed = processMemKiB(proxy.pid).rss;
    const fdsClosed = fdCount(proxy.pid);
    // Idle keep-alive connections to the engine may stay pooled; anything beyond is a leak.
    if (fdsClosed > fdsIdle + 64)
      ctx.problem(`streams: ${fdsClosed - fdsIdle} descriptors still open after closing`);

    const rssValues = samples.map((x) => x.rssKiB);
    const growth = end.rss - rssOpen;
    if (growth > FLAT_GROWTH_KIB) {
      ctx.problem(
        `streams: RSS grew ${(growth / 1024).toFixed(1)} MiB during the hold (flat means <= ${FLAT_GROWTH_KIB / 1024} MiB)`,
      );
    }
    Object.assign(result, {
      streams: count,
      holdS,
      openS,
      held: live.length - closed.length - stale.length,
      bytesReceived: live.reduce((n, s) => n + s.bytes, 0),
      rssKiB: {
        idle: rssIdle,
        open: rssOpen,
        min: Math.min(...rssValues),
        max: Math.max(...rssValues),
        end: end.rss,
        peak: end.hwm,
        afterClose: rssClosed,
      },
      growthDuringHoldKiB: growth,
      samples,
      fds: { idle: fdsIdle, open: fdsOpen, afterClose: fdsClosed },
      proxyCpuMsPerS: cpuMs / holdS,
    });
    return result;
  } finally {
    for (const stream of opened) stream.close();
    if (ids.length) await removeTracked(ctx.docker, ctx.registry, ids);
    const exit = await proxy?.stop();
    ctx.stoppers.delete(stop);
    if (proxy)
      for (const problem of exitProblems("the streams proxy", exit, proxy.output())) ctx.problem(problem);
    result.summary = summary(result);
  }
}

/** One stream: a logs -f response or an attach tunnel, counting what arrives. */
class Stream {
  static open(socketPath, kind, id) {
    return new Promise((resolve) => {
      const stream = new Stream();
      const socket = net.connect(socketPath);
      stream.socket = socket;
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail("no response head within 30 s"), 30_000);
      const fail = (error) => {
        clearTimeout(timer);
        stream.error = String(error);
        socket.destroy();
        resolve(stream);
      };
      const onHead = (chunk) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        clearTimeout(timer);
        socket.off("data", onHead);
        const status = head.toString("latin1", 9, 12);
        const expected = kind === "attach" ? "101" : "200";
        if (status !== expected) return fail(`${kind} answered ${status}, expected ${expected}`);
        stream.bytes = head.length - end - 4;
        stream.lastDataAt = Date.now();
        socket.on("data", (data) => {
          stream.bytes += data.length;
          stream.lastDataAt = Date.now();
        });
        resolve(stream);
      };
      socket.on("data", onHead);
      socket.on("error", (error) => (stream.lastDataAt ? undefined : fail(error)));
      socket.on("close", () => {
        stream.closed = true;
      });
      socket.write(
        kind === "attach"
          ? `POST /v1.41/containers/${id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: docker\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n`
          : `GET /v1.41/containers/${id}/logs?follow=1&stdout=1&tail=1 HTTP/1.1\r\nHost: docker\r\n\r\n`,
      );
    });
  }

  constructor() {
    this.bytes = 0;
    this.lastDataAt = 0;
    this.closed = false;
    this.error = null;
    this.closing = false;
  }

  close() {
    this.closing = true;
    this.socket?.destroy();
  }
}

function openFilesLimit(pid) {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return match?.[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(match?.[1] ?? 1024);
}

function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function summary(r) {
  if (!r.rssKiB) return [];
  const mib = (kib) => (kib / 1024).toFixed(1);
  return [
    `streams: ${r.streams} streams (half logs -f, half attach 101) over ${CONTAINERS} containers printing a line a second, held ${r.holdS} s through a fresh proxy (opened in ${r.openS.toFixed(1)} s)`,
    `         ${r.held} of ${r.streams} held to the end and still receiving; ${(r.bytesReceived / 1024).toFixed(0)} KiB received; proxy CPU ${r.proxyCpuMsPerS.toFixed(1)} ms per second of hold`,
    `         proxy RSS ${mib(r.rssKiB.idle)} MiB idle, ${mib(r.rssKiB.open)} MiB with all open, ${mib(r.rssKiB.min)}–${mib(r.rssKiB.max)} MiB over the hold (1 s samples), ${mib(r.rssKiB.end)} MiB at its end (peak ${mib(r.rssKiB.peak)} MiB), ${mib(r.rssKiB.afterClose)} MiB 2 s after closing`,
    `         growth during the hold ${mib(r.growthDuringHoldKiB)} MiB (flat: <= ${FLAT_GROWTH_KIB / 1024} MiB); descriptors ${r.fds.idle} idle, ${r.fds.open} open, ${r.fds.afterClose} after closing (limit ${r.fdLimit})`,
  ];
}
