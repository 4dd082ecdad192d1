import { interleave, PATHS, processesCpuWindow } from "../lib/interleave.mjs";
import { runLoad } from "../lib/load.mjs";
import { median } from "../lib/stats.mjs";

/**
 * One request repeated over keep-alive connections for a fixed time, both paths interleaved.
 * Rows: requests/s (with the throughput target and the proxy's CPU per request), p50 and p99.
 */
export async function measureHttpLoad(ctx, { label, path, concurrency, rpsTarget, cpuTarget }) {
  const rounds = await httpLoadRounds(ctx, { label, path, concurrency });
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

/**
 * The rounds of one request repeated over keep-alive connections, two paths interleaved. By
 * default the paths are direct and proxy on ctx.sockets, with the proxy's CPU read over each
 * window; a scenario may name its own `paths`, their `sockets` (path -> unix socket) and the
 * `processes` whose CPU to read on each (path -> { name: pid }): each round's result then has
 * `<name>CpuMsPerReq` for each (proxyCpuMsPerReq is always there, null where no proxy is read).
 * `sent` (path -> count), when given, adds up the requests completed on each path, warm-up
 * included.
 */
export async function httpLoadRounds(
  ctx,
  {
    label,
    path,
    concurrency,
    paths = PATHS,
    sockets = ctx.sockets,
    processes = { direct: {}, proxy: { proxy: ctx.proxy.pid } },
    sent = null,
  },
) {
  const request = `GET ${path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: powerstrip-bench\r\n\r\n`;
  const load = async (via, seconds, onWindow) => {
    const result = await runLoad({ socketPath: sockets[via], request, concurrency, seconds, onWindow });
    if (sent) sent[via] = (sent[via] ?? 0) + result.requests;
    return result;
  };
  return interleave(ctx, label, {
    paths,
    warmup: (via) => load(via, ctx.opts.warmup),
    async measure(via) {
      const cpu = processesCpuWindow(processes[via] ?? {});
      const result = await load(via, ctx.opts.seconds, cpu);
      result.proxyCpuMsPerReq = null;
      for (const [name, ms] of Object.entries(cpu.ms())) {
        result[`${name}CpuMsPerReq`] = ms / Math.max(1, result.requests);
      }
      reportFailures(ctx, label, via, result);
      return result;
    },
  });
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
  let cpu = result.proxyCpuMsPerReq == null ? "" : `, proxy CPU ${result.proxyCpuMsPerReq.toFixed(3)} ms/req`;
  if (result.adapterCpuMsPerReq != null)
    cpu += `, adapter CPU ${result.adapterCpuMsPerReq.toFixed(3)} ms/req`;
  return `${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms${cpu}`;
}
