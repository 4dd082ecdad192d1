import http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32 } from "node:zlib";
import { createContainer, removeTracked } from "../lib/docker.mjs";
import { interleave, proxyCpuWindow } from "../lib/interleave.mjs";
import { sampleRss } from "../lib/proc.mjs";
import { max, median } from "../lib/stats.mjs";
import { tarOfOneFile } from "../lib/tar.mjs";
import { TARGETS } from "../lib/targets.mjs";

const FILE = "powerstrip-bench.bin";
const MiB = 1024 * 1024;

/**
 * A large archive both ways: PUT /containers/{id}/archive (a tar of one file, generated on the
 * fly) and GET it back. Measures MiB/s per direction and, through the proxy, its RSS growth
 * while the bytes pass (a proxy that buffers bodies grows by the file's size).
 */
export async function archive(ctx) {
  const size = ctx.opts.sizeMiB * MiB;
  const id = await createContainer(ctx.docker, ctx.registry, {
    Image: ctx.opts.image,
    Cmd: ["sleep", "infinity"],
  });
  ctx.describe = (r) =>
    `up ${r.up.mibps.toFixed(0)} MiB/s, down ${r.down.mibps.toFixed(0)} MiB/s` +
    (r.up.rss ? `, proxy RSS +${kibToMiB(r.up.rss.growthKiB)} / +${kibToMiB(r.down.rss.growthKiB)} MiB` : "");
  const expected = { crc: null, bytes: null };
  try {
    const rounds = await interleave(ctx, `archive ${ctx.opts.sizeMiB} MiB`, {
      // A smaller transfer each way warms the proxy's streaming path (and the engine's) up.
      warmup: (via) => transferBothWays(ctx, via, id, Math.max(MiB, size / 8), null),
      measure: (via) => transferBothWays(ctx, via, id, size, expected),
    });
    return { rounds, rows: rows(ctx, rounds) };
  } finally {
    await removeTracked(ctx.docker, ctx.registry, [id]);
  }
}

async function transferBothWays(ctx, via, id, size, expected) {
  const socketPath = ctx.sockets[via];
  const up = await measured(ctx, via, () => upload(socketPath, id, size));
  await checkUploadedSize(ctx, via, id, size);
  const down = await measured(ctx, via, () => download(socketPath, id));
  if (expected) checkDownload(ctx, via, down, expected);
  for (const [dir, t] of [
    ["upload", up],
    ["download", down],
  ]) {
    if (t.status !== 200) ctx.problem(`archive ${dir} via ${via}: HTTP ${t.status} ${t.error ?? ""}`);
  }
  return { up, down };
}

/** Times one transfer; through the proxy also its CPU and RSS (sampled every 50 ms + VmHWM). */
async function measured(ctx, via, transfer) {
  const cpu = proxyCpuWindow(ctx, via);
  const rss = via === "proxy" ? sampleRss(ctx.proxy.pid, 50) : null;
  cpu.start();
  const t0 = performance.now();
  const result = await transfer();
  const seconds = (performance.now() - t0) / 1000;
  cpu.end();
  return {
    ...result,
    seconds,
    mibps: result.payloadBytes / MiB / seconds,
    proxyCpuMs: cpu.ms(),
    rss: rss?.stop() ?? null,
  };
}

function upload(socketPath, id, size) {
  const tar = tarOfOneFile(FILE, size);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method: "PUT",
        path: `/containers/${id}/archive?path=/tmp`,
        headers: { "Content-Type": "application/x-tar", "Content-Length": tar.length },
        agent: false,
      },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            payloadBytes: size,
            error: res.statusCode === 200 ? null : text,
          }),
        );
      },
    );
    req.on("error", reject);
    pipeline(Readable.from(tar.chunks()), req).catch(reject);
  });
}

/** Reads the tar back, counting and checksumming (crc32, ~5 GB/s) so bytes can be compared. */
function download(socketPath, id) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { socketPath, path: `/containers/${id}/archive?path=/tmp/${FILE}`, agent: false },
      (res) => {
        let bytes = 0;
        let crc = 0;
        res.on("data", (chunk) => {
          bytes += chunk.length;
          crc = crc32(chunk, crc);
        });
        res.on("end", () => resolve({ status: res.statusCode, payloadBytes: bytes, crc }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
  });
}

/** The engine's own stat of the file after the upload: it must hold every byte sent. */
async function checkUploadedSize(ctx, via, id, size) {
  const res = await ctx.docker.request("HEAD", `/containers/${id}/archive?path=/tmp/${FILE}`);
  const stat = res.headers["x-docker-container-path-stat"];
  const actual = stat ? JSON.parse(Buffer.from(stat, "base64").toString()).size : null;
  if (actual !== size)
    ctx.problem(`archive upload via ${via}: the file in the container has ${actual} bytes, not ${size}`);
}

/** Every download of the same file must be byte-identical, whichever path it took. */
function checkDownload(ctx, via, down, expected) {
  if (expected.crc === null) {
    expected.crc = down.crc;
    expected.bytes = down.payloadBytes;
    return;
  }
  if (down.crc !== expected.crc || down.payloadBytes !== expected.bytes) {
    ctx.problem(
      `archive download via ${via}: ${down.payloadBytes} bytes, crc32 ${down.crc}; ` +
        `the first download had ${expected.bytes} bytes, crc32 ${expected.crc}`,
    );
  }
}

function rows(ctx, rounds) {
  const label = `archive ${ctx.opts.sizeMiB} MiB`;
  const m = (via, dir, pick) => median(rounds[via].map((r) => pick(r[dir])));
  const row = (dir, name) => ({
    scenario: `${label} ${name}`,
    metric: "MiB/s",
    direct: m("direct", dir, (t) => t.mibps),
    proxy: m("proxy", dir, (t) => t.mibps),
    target: { op: ">=", ratio: TARGETS.streamRatio },
    cpu: { value: m("proxy", dir, (t) => t.proxyCpuMs), unit: "ms/transfer", max: null },
    // The worst round, not the median: the target is a ceiling.
    rss: { value: max(rounds.proxy.map((r) => r[dir].rss.growthKiB / 1024)), max: TARGETS.streamRssMiB },
  });
  return [row("up", "upload"), row("down", "download")];
}

function kibToMiB(kib) {
  return (kib / 1024).toFixed(1);
}
