#!/usr/bin/env node
// Powerstrip benchmark: each scenario direct to the engine and through the proxy, interleaved.
// Not a test: it prints figures next to their targets and writes bench/results/<timestamp>.json.
// See bench/README.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { dockerClient, removeOwnContainers, removeStaleContainers, waitForImage } from "./lib/docker.mjs";
import { busyFraction, CLK_TCK, machineCpu, processMemKiB } from "./lib/proc.mjs";
import { defaultProxyCmd, exitProblems, REPO_ROOT, reapStaleProxies, startProxy } from "./lib/proxy.mjs";
import { evaluate, formatTable, num, targetSummary } from "./lib/report.mjs";
import { median } from "./lib/stats.mjs";
import { TARGETS } from "./lib/targets.mjs";
import { archive } from "./scenarios/archive.mjs";
import { attach } from "./scenarios/attach.mjs";
import { hooks } from "./scenarios/hooks.mjs";
import { list } from "./scenarios/list.mjs";
import { ping } from "./scenarios/ping.mjs";
import { soak } from "./scenarios/soak.mjs";
import { streams } from "./scenarios/streams.mjs";

const SCENARIOS = { list, ping, archive, attach, hooks, soak, streams };
/** What a bare run measures: soak and streams are load-holding checks, run by name. */
const DEFAULT_SCENARIOS = ["list", "ping", "archive", "attach", "hooks"];

const USAGE = `usage: node bench/run.mjs [options] [SCENARIO…]     (or: npm run bench -- [options] [SCENARIO…])

  SCENARIO…           the same as --only: node bench/run.mjs soak, node bench/run.mjs streams

  --rounds N          measured rounds per path, interleaved direct/proxy (hooks: unhooked/hooked) (default 5)
  --seconds S         length of each measured load window (default 5)
  --warmup S          warm-up traffic per path before each scenario (default 5)
  --only LIST         comma-separated subset of: ${Object.keys(SCENARIOS).join(", ")}
  --proxy-cmd "CMD"   the proxy to measure (default: the built powerstrip-proxy, with its own temp
                      --admin and --state-dir). Placeholders {listen} {listenPath} {docker}
                      {dockerPath} {admin} {adminPath} {stateDir}; without any, the flags
                      "--listen {listen} --docker {docker}" are appended. Must exec the proxy
                      itself (its pid is where CPU and RSS are read). The hooks scenario needs
                      {admin} (it loads an adapter through the admin API); without it, it is
                      skipped unless named by --only.
  --docker PATH       the engine's unix socket (default /var/run/docker.sock)
  --image NAME        local image for the containers (default powerstrip/base-node:latest)
  --containers N      containers present for containers/json, in list and hooks (default 30)
  --size-mib N        archive file size (default 256)
  --echoes N          attach echoes per path, split over the rounds (default 2000)
  --calls N           soak: calls in the measured run (default 20000)
  --concurrency N     soak: connections, one call in flight each (default 64)
  --streams N         streams: streams held at once (default 500)
  --hold S            streams: how long they are held (default 30)
  -h, --help

By default: ${DEFAULT_SCENARIOS.join(", ")}. soak and streams run only when named.`;

function parseOptions(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rounds: { type: "string", default: "5" },
      seconds: { type: "string", default: "5" },
      warmup: { type: "string", default: "5" },
      only: { type: "string" },
      "proxy-cmd": { type: "string" },
      docker: { type: "string", default: "/var/run/docker.sock" },
      image: { type: "string", default: "powerstrip/base-node:latest" },
      containers: { type: "string", default: "30" },
      "size-mib": { type: "string", default: "256" },
      echoes: { type: "string", default: "2000" },
      calls: { type: "string", default: "20000" },
      concurrency: { type: "string", default: "64" },
      streams: { type: "string", default: "500" },
      hold: { type: "string", default: "30" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  // Bounds keep any run finite: a load window never exceeds 120 s, nor a run 50 rounds.
  const int = (name, min, maxValue) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min || n > maxValue)
      throw new Error(`--${name} must be ${min}..${maxValue}`);
    return n;
  };
  const named = [...(values.only ? values.only.split(",").map((s) => s.trim()) : []), ...positionals];
  const only = named.length > 0 ? named : DEFAULT_SCENARIOS;
  for (const name of only) if (!SCENARIOS[name]) throw new Error(`unknown scenario "${name}"\n${USAGE}`);
  const sizeMiB = int("size-mib", 1, 4096);
  return {
    rounds: int("rounds", 1, 50),
    seconds: int("seconds", 0.5, 120),
    warmup: int("warmup", 0, 120),
    only,
    onlyGiven: named.length > 0,
    proxyCmd: values["proxy-cmd"] ?? defaultProxyCmd(),
    dockerSocket: values.docker,
    image: values.image,
    containers: int("containers", 0, 500),
    sizeMiB,
    echoes: int("echoes", 1, 100_000),
    calls: int("calls", 1, 1_000_000),
    concurrency: int("concurrency", 1, 1024),
    streams: int("streams", 1, 5_000),
    hold: int("hold", 1, 600),
  };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const log = (line) => process.stderr.write(`${line}\n`);
  const docker = dockerClient(opts.dockerSocket);
  const registry = new Set();
  const problems = [];
  const ctx = {
    opts,
    docker,
    registry,
    log,
    /** Stops a scenario's own processes (the hooks scenario's proxies and adapter) on cleanup. */
    stoppers: new Set(),
    problem: (text) => {
      problems.push(text);
      log(`  PROBLEM: ${text}`);
    },
  };

  const engine = await docker.json("GET", "/version").catch((error) => {
    throw new Error(`no Docker engine on ${opts.dockerSocket}: ${error.message}`);
  });
  const stale = await removeStaleContainers(docker);
  if (stale) log(`removed ${stale} container(s) left by an earlier bench run`);
  const staleProxies = reapStaleProxies();
  if (staleProxies) log(`stopped ${staleProxies} proxy or adapter process(es) left by an earlier bench run`);
  if (opts.only.some((s) => s !== "ping")) await waitForImage(docker, opts.image, 20 * 60_000, log);

  const cleanup = onceCleanup(ctx);
  installSignalHandlers(cleanup, log);

  // What the rest of the machine is doing before we add load: on a shared machine, a lot.
  const loadStart = loadavg();
  const busyBefore = await sampleBusy(2_000);
  log(`starting the proxy: ${opts.proxyCmd}`);
  ctx.proxy = await startProxy({ cmd: opts.proxyCmd, dockerSocket: opts.dockerSocket });
  ctx.sockets = { direct: opts.dockerSocket, proxy: ctx.proxy.socketPath };
  log(`proxy pid ${ctx.proxy.pid} on ${ctx.proxy.socketPath}`);
  // Its RSS at the start and at the end of the run: a leak across thousands of requests shows here.
  const proxyMemStart = processMemKiB(ctx.proxy.pid);
  let proxyMemEnd = null;

  const results = {};
  let rows = [];
  try {
    for (const name of opts.only) {
      const exit = ctx.proxy.exitStatus();
      if (exit !== null) {
        ctx.problem(`the proxy exited during the run (${JSON.stringify(exit)}); skipping ${name}`);
        continue;
      }
      log(`\n== ${name}`);
      try {
        results[name] = await SCENARIOS[name](ctx);
        rows = rows.concat(results[name].rows.map(evaluate));
      } catch (error) {
        ctx.problem(`scenario ${name} failed: ${error.stack ?? error}`);
      }
    }
  } finally {
    if (ctx.proxy.exitStatus() === null) proxyMemEnd = processMemKiB(ctx.proxy.pid);
    await cleanup();
  }
  checkProxyExit(ctx);

  const report = {
    startedAt: startedAt.toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    machine: {
      cpus: cpus().length,
      kernel: release(),
      node: process.version,
      engine: { version: engine.Version, apiVersion: engine.ApiVersion },
      clkTck: CLK_TCK,
      loadavgStart: loadStart,
      busyBeforeRun: busyBefore,
      loadavgEnd: loadavg(),
      busyDuringWindows: busySummary(results),
    },
    options: opts,
    proxy: {
      command: ctx.proxy.command,
      pid: ctx.proxy.pid,
      rssKiB: { start: proxyMemStart.rss, end: proxyMemEnd?.rss ?? null, peak: proxyMemEnd?.hwm ?? null },
      exit: ctx.proxy.exitStatus(),
      output: ctx.proxy.output(),
    },
    targets: TARGETS,
    rows,
    problems,
    scenarios: results,
  };
  const file = writeResults(report, startedAt);
  printSummary(report, file);
  process.exitCode = problems.length ? 1 : 0;
}

/** Stops the proxy and removes this run's containers, once, whatever called it. */
function onceCleanup(ctx) {
  let running = null;
  return () => {
    running ??= (async () => {
      for (const stop of ctx.stoppers) await stop().catch(() => {});
      if (ctx.proxy) ctx.proxyExit = await ctx.proxy.stop();
      const removed = await removeOwnContainers(ctx.docker, ctx.registry);
      if (removed) ctx.log(`removed ${removed} bench container(s)`);
    })();
    return running;
  };
}

function installSignalHandlers(cleanup, log) {
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      if (interrupted) {
        log(
          "second interrupt: exiting now; remove leftovers with: docker rm -f $(docker ps -aq --filter label=io.powerstrip.bench=1)",
        );
        process.exit(130);
      }
      interrupted = true;
      log(`\n${signal}: stopping the proxy and removing bench containers …`);
      cleanup().finally(() => process.exit(130));
    });
  }
}

/** The proxy must stop by itself on SIGTERM, and say nothing unexpected meanwhile. */
function checkProxyExit(ctx) {
  for (const problem of exitProblems("the proxy", ctx.proxyExit, ctx.proxy.output())) ctx.problem(problem);
}

async function sampleBusy(ms) {
  const before = machineCpu();
  await new Promise((r) => setTimeout(r, ms));
  return busyFraction(before, machineCpu());
}

/** How busy the cores were during the measured windows (our own load included). */
function busySummary(results) {
  const fractions = [];
  const visit = (value) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      if (typeof value.machineBusy === "number") fractions.push(value.machineBusy);
      Object.values(value).forEach(visit);
    }
  };
  visit(results);
  return { medianFraction: median(fractions), windows: fractions.length };
}

function writeResults(report, startedAt) {
  const dir = join(REPO_ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

function printSummary(report, file) {
  const { machine, options } = report;
  const busy = machine.busyBeforeRun;
  const others = ` (cores ${(busy * 100).toFixed(0)}% busy in the 2 s before the run)`;
  console.log(
    [
      "",
      "Powerstrip bench: direct = the engine's socket, proxy = the same engine through the proxy",
      `proxy:   ${report.proxy.command}`,
      `         RSS ${mib(report.proxy.rssKiB.start)} MiB at start, ${mib(report.proxy.rssKiB.end)} MiB at the end of the run`,
      `engine:  ${machine.engine.version} (API ${machine.engine.apiVersion}); node ${machine.node}; ${machine.cpus} cores; load ${machine.loadavgStart.map((l) => l.toFixed(2)).join(" ")} at start${others}`,
      // The comparison scenarios' method; soak and streams print their own with their figures.
      ...(report.rows.length
        ? [
            `method:  ${options.rounds} interleaved rounds per path after ${options.warmup} s warm-up; ${options.seconds} s load windows;` +
              " figures are medians over rounds; ratio = proxy / direct;",
            "         proxy CPU = utime+stime from /proc/<pid>/stat over the window / requests (or per transfer);",
            "         RSS growth = peak VmRSS (50 ms samples, VmHWM reset before each transfer) - VmRSS before, worst round",
          ]
        : []),
      ...hooksMethod(report.scenarios.hooks),
      "",
      ...(report.rows.length ? [formatTable(report.rows), ""] : []),
      ...Object.values(report.scenarios).flatMap((r) => (r?.summary?.length ? [...r.summary, ""] : [])),
    ].join("\n"),
  );
  const { met, total } = targetSummary(report.rows);
  console.log(`targets met: ${met} of ${total}`);
  if (report.problems.length) {
    console.log(`\nproblems (${report.problems.length}):`);
    for (const p of report.problems) console.log(`  - ${p}`);
  }
  if (machine.loadavgStart[0] > machine.cpus * 0.25 || busy > 0.1) {
    console.log(
      `\nnote: the machine was busy with other work (load ${num(machine.loadavgStart[0])}, cores ${(busy * 100).toFixed(0)}% busy before the run): treat these figures as provisional.`,
    );
  }
  console.log(`\nfull results: ${file}`);
}

/** How the hooks scenario's table reads, when it ran (or why it did not). */
function hooksMethod(hooks) {
  if (!hooks) return [];
  if (hooks.skipped) return [`hooks:   skipped: ${hooks.skipped}`];
  return [
    "hooks:   unhooked, hooked = two more proxies started like the one above, on the same engine; the hooked one",
    "         with bench/baselines/noop-adapter.mjs loaded (pre-hooks returning nothing on GET /_ping and",
    "         GET /containers/json, over a unix socket); ratio = hooked / unhooked; added = hooked - unhooked;",
    "         adapter CPU = the adapter process's utime+stime over the window / hooked requests",
  ];
}

function mib(kib) {
  return kib == null ? "-" : (kib / 1024).toFixed(1);
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exit(1);
});
