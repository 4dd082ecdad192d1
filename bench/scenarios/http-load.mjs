import { interleave, proxyCpuWindow } from "../lib/interleave.mjs";
import { runLoad } from "../lib/load.mjs";
import { median } from "../lib/stats.mjs";

/**
 * One request repeated over keep-alive connections for a fixed time, both paths interleaved.
 * Rows: requests/s (with the throughput target and the proxy's CPU per request), p50 and p99.
 */
export async function measureHttpLoad(ctx, { label, path, concurrency, rpsTarget, cpuTarget }) {
  const request = `GET ${path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: powerstrip-bench\r\n\r\n`;
  const load = (via, seconds, onWindow) =>
    runLoad({ socketPath: ctx.sockets[via], request, concurrency, seconds, onWindow });

  const rounds = await interleave(ctx, label, {
    warmup: (via) => load(via, ctx.opts.warmup),
    async measure(via) {
      const cpu = proxyCpuWindow(ctx, via);
      const result = await load(via, ctx.opts.seconds, cpu);
      const cpuMs = cpu.ms();
      result.proxyCpuMsPerReq = cpuMs === null ? null : cpuMs / Math.max(1, result.requests);
      reportFailures(ctx, label, via, result);
      return result;
    },
  });
  const m = (via, key) => median(rounds[via].map((r) => r[key]));
  const proxyCpu = m("proxy", "proxyCpuMsPerReq");
  const rows = [
    {
      scenario: label,
      metric: "req/s",
      direct: m("direct", "rps"),
      proxy: m("proxy", "rps"),
      target: rpsTarget ? { op: ">=", ratio: rpsTarget } : null,
      cpu: { value: proxyCpu, unit: "ms/req", max: cpuTarget ?? null },
    },
    { scenario: label, metric: "p50 ms", direct: m("direct", "p50Ms"), proxy: m("proxy", "p50Ms") },
    { scenario: label, metric: "p99 ms", direct: m("direct", "p99Ms"), proxy: m("proxy", "p99Ms") },
  ];
  return { label, concurrency, rows, rounds };
}

function reportFailures(ctx, label, via, result) {
  if (result.errors || result.hung) {
    ctx.problem(
      `${label} via ${via}: ${result.errors} failed and ${result.hung} hung of ${result.requests} requests` +
        ` (statuses ${JSON.stringify(result.statuses)}; first error: ${result.firstError ?? "none"})`,
    );
  }
}

export function describeLoad(result) {
  const cpu =
    result.proxyCpuMsPerReq == null ? "" : `, proxy CPU ${result.proxyCpuMsPerReq.toFixed(3)} ms/req`;
  return `${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms${cpu}`;
}
