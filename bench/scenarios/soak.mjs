import { execFile } from "node:child_process";
import { join } from "node:path";
import { runCalls } from "../lib/calls.mjs";
import { createMany, removeTracked } from "../lib/docker.mjs";
import { processCpuMs, processMemKiB, resetPeakRss } from "../lib/proc.mjs";
import { exitProblems, hasAdminPlaceholder, REPO_ROOT, startAdapter, startProxy } from "../lib/proxy.mjs";

const FAULT_ADAPTER = join(REPO_ROOT, "bench/baselines/fault-adapter.mjs");
const CLI = join(REPO_ROOT, "packages/cli/bin/powerstrip.js");
const HOOK = "GET /containers/json";
const CONTAINERS = 5;
/** Calls before the measured run: the JIT settles and RSS reaches its working size. */
const WARMUP_CALLS = 2_000;
/** A call unanswered after this is hung (the failing adapter's own timeout is 250 ms). */
const CALL_TIMEOUT_MS = 10_000;

/**
 * A bounded soak: `--calls` (20,000) calls of GET /containers/json (filtered to the scenario's 5
 * containers) at `--concurrency` (64) through a fresh proxy with two adapters loaded by URL, each
 * with a pre-hook on that path and failure policy "fail": soak-a fails every 10th call it gets
 * (an HTTP 500, a dropped connection, a timeout, non-JSON, a reply against the schema, in turn),
 * soak-b never does. Every call is counted: answered by Docker (200 and the 5 containers), by a
 * policy error (502/504, Docker's JSON error shape, naming soak-a), anything else, hung (no answer
 * within 10 s), or cut. Throughput, p50/p99, the proxy's RSS and CPU are reported.
 */
export async function soak(ctx) {
  if (!hasAdminPlaceholder(ctx.opts.proxyCmd)) {
    throw new Error(
      "the proxy command has no {admin} placeholder: the soak loads its adapters over the admin API",
    );
  }
  const procs = {};
  const stopAll = async () => {
    const exits = {};
    // The proxy first: it unloads the adapters on its way out; then the adapters report.
    for (const name of ["proxy", "soak-a", "soak-b"]) if (procs[name]) exits[name] = await procs[name].stop();
    return exits;
  };
  ctx.stoppers.add(stopAll);
  let ids = [];
  const result = { rows: [] };
  try {
    const proxy = await startProxy({ cmd: ctx.opts.proxyCmd, dockerSocket: ctx.opts.dockerSocket });
    procs.proxy = proxy;
    ctx.log(`  proxy: pid ${proxy.pid} on ${proxy.socketPath}`);
    for (const [name, failEvery] of [
      ["soak-a", 10],
      ["soak-b", 0],
    ]) {
      procs[name] = await startAdapter({
        script: FAULT_ADAPTER,
        env: { ADAPTER_NAME: name, HOOK, FAIL_EVERY: failEvery, TIMEOUT_MS: 250 },
      });
      await load(proxy.adminAddress, procs[name].address);
      ctx.log(
        `  ${name}: pid ${procs[name].pid}, loaded (pre ${HOOK}, fail policy, fails 1 call in ${failEvery || "never"})`,
      );
    }
    const label = `io.powerstrip.bench.soak=${process.pid}`;
    ids = await createMany(ctx.docker, ctx.registry, CONTAINERS, {
      Image: ctx.opts.image,
      Cmd: ["sleep", "infinity"],
      Labels: { "io.powerstrip.bench.soak": String(process.pid) },
    });
    const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
    const request = `GET /v1.41/containers/json?filters=${filters} HTTP/1.1\r\nHost: docker\r\n\r\n`;
    const policy = /^powerstrip: adapter "soak-a" failed \(.+\); its failure policy is to fail closed$/;
    const classify = (status, body) => {
      let json;
      try {
        json = JSON.parse(body.toString());
      } catch {
        return "other";
      }
      if (status === 200) return Array.isArray(json) && json.length === CONTAINERS ? "docker" : "other";
      if ((status === 502 || status === 504) && policy.test(json?.message)) return "policy";
      return "other";
    };
    const run = (calls) =>
      runCalls({
        socketPath: proxy.socketPath,
        request,
        calls,
        concurrency: ctx.opts.concurrency,
        callTimeoutMs: CALL_TIMEOUT_MS,
        classify,
      });

    const fresh = processMemKiB(proxy.pid).rss;
    ctx.log(`  warm-up: ${WARMUP_CALLS} calls …`);
    const warmup = await run(WARMUP_CALLS);
    const before = processMemKiB(proxy.pid).rss;
    resetPeakRss(proxy.pid);
    const cpuBefore = processCpuMs(proxy.pid);
    const adapterCpuBefore = processCpuMs(procs["soak-a"].pid) + processCpuMs(procs["soak-b"].pid);
    ctx.log(`  soak: ${ctx.opts.calls} calls at concurrency ${ctx.opts.concurrency} …`);
    // RSS every second of the run: a leak climbs steadily, a heap settling levels off.
    const samples = [];
    const sampler = setInterval(() => samples.push(processMemKiB(proxy.pid).rss), 1_000);
    const measured = await run(ctx.opts.calls).finally(() => clearInterval(sampler));
    const proxyCpuMs = processCpuMs(proxy.pid) - cpuBefore;
    const adapterCpuMs =
      processCpuMs(procs["soak-a"].pid) + processCpuMs(procs["soak-b"].pid) - adapterCpuBefore;
    const after = processMemKiB(proxy.pid);

    Object.assign(result, {
      warmup,
      measured,
      rssKiB: { fresh, before: before, after: after.rss, peak: after.hwm, samples },
      proxyCpuMsPerCall: proxyCpuMs / ctx.opts.calls,
      adaptersCpuMsPerCall: adapterCpuMs / ctx.opts.calls,
    });
    for (const [what, r] of [
      ["warm-up", warmup],
      ["soak", measured],
    ]) {
      const other = r.categories.other ?? 0;
      if (other || r.hung || r.cut || r.lost) {
        ctx.problem(
          `soak (${what}): ${other} answered otherwise, ${r.hung} hung, ${r.cut} cut, ${r.lost} lost (first: ${JSON.stringify(r.firstOf)})`,
        );
      }
    }
    ctx.log(`  ${describe(measured)}`);
    return result;
  } finally {
    if (ids.length) await removeTracked(ctx.docker, ctx.registry, ids);
    const exits = await stopAll();
    ctx.stoppers.delete(stopAll);
    checkAdapters(ctx, procs, exits, result);
    result.summary = summary(ctx, result);
  }
}

function describe(r) {
  return `${r.calls} calls in ${r.elapsedS.toFixed(1)} s: ${r.categories.docker ?? 0} by Docker, ${r.categories.policy ?? 0} policy errors, ${r.categories.other ?? 0} other, ${r.hung} hung, ${r.cut} cut, ${r.lost} lost; ${r.rps.toFixed(0)} calls/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`;
}

/** `powerstrip --admin … load --url … --json`, as an operator would. */
function load(adminAddress, url) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, "--admin", adminAddress, "load", "--url", url, "--json"],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`powerstrip load --url ${url} failed: ${stderr.trim() || error.message}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

/**
 * The adapters' own counts must match the clients': every policy error is one injected failure,
 * every call answered by Docker went through soak-b.
 */
function checkAdapters(ctx, procs, exits, result) {
  const counts = {};
  for (const name of ["soak-a", "soak-b"]) {
    if (!procs[name]) continue;
    const output = procs[name].output();
    for (const problem of exitProblems(
      `the soak's ${name}`,
      exits[name],
      output,
      /^soak-[ab]: received \d+ hook calls, injected \d+ failures$/,
    )) {
      ctx.problem(problem);
    }
    const match = /received (\d+) hook calls, injected (\d+) failures/.exec(output);
    if (match) counts[name] = { calls: Number(match[1]), injected: Number(match[2]) };
  }
  // The proxy may log each injected failure (always naming soak-a); anything else it says is a problem.
  const proxyLines = /listening on|shutting down|soak-a/;
  let proxyOutput = procs.proxy?.output() ?? "";
  // Only the output's tail is kept: its first line may be cut short.
  if (proxyOutput.length >= 60 * 1024) proxyOutput = proxyOutput.slice(proxyOutput.indexOf("\n") + 1);
  for (const problem of exitProblems("the soak's proxy", exits.proxy, proxyOutput, proxyLines)) {
    ctx.problem(problem);
  }
  result.adapters = counts;
  if (!result.measured || !counts["soak-a"] || !counts["soak-b"]) return;
  const all = [result.warmup, result.measured];
  const sum = (key) => all.reduce((n, r) => n + (r.categories[key] ?? 0), 0);
  if (sum("policy") !== counts["soak-a"].injected) {
    ctx.problem(`soak: ${sum("policy")} policy errors for ${counts["soak-a"].injected} injected failures`);
  }
  if (sum("docker") !== counts["soak-b"].calls) {
    ctx.problem(`soak: ${sum("docker")} calls answered by Docker, but soak-b saw ${counts["soak-b"].calls}`);
  }
}

function summary(ctx, result) {
  if (!result.measured) return [];
  const m = result.measured;
  const mib = (kib) => (kib / 1024).toFixed(1);
  return [
    `soak:    ${ctx.opts.calls} calls of GET /containers/json (${CONTAINERS} containers) at concurrency ${ctx.opts.concurrency}, two pre-hook adapters, soak-a failing 1 call in 10`,
    `         ${m.categories.docker ?? 0} answered by Docker, ${m.categories.policy ?? 0} by a policy error naming soak-a, ${m.categories.other ?? 0} otherwise; ${m.hung} hung, ${m.cut} cut, ${m.lost} lost`,
    `         ${m.rps.toFixed(0)} calls/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms (answered by Docker: p50 ${m.byCategory.docker?.p50Ms.toFixed(2)} ms, p99 ${m.byCategory.docker?.p99Ms.toFixed(2)} ms; the injected timeouts hold 2% of calls for 250 ms)`,
    `         proxy CPU ${result.proxyCpuMsPerCall.toFixed(3)} ms/call, adapters ${result.adaptersCpuMsPerCall.toFixed(3)} ms/call`,
    `         proxy RSS ${mib(result.rssKiB.fresh)} MiB fresh, ${mib(result.rssKiB.before)} MiB after ${WARMUP_CALLS} warm-up calls, ${mib(result.rssKiB.after)} MiB after the soak (peak ${mib(result.rssKiB.peak)} MiB)`,
    `         RSS each second of the soak (MiB): ${result.rssKiB.samples.map(mib).join(" ")}`,
    `         adapters: soak-a received ${result.adapters?.["soak-a"]?.calls ?? "?"} calls and injected ${result.adapters?.["soak-a"]?.injected ?? "?"} failures; soak-b received ${result.adapters?.["soak-b"]?.calls ?? "?"} (warm-up included)`,
  ];
}
