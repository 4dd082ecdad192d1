import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createMany, dockerClient, removeTracked } from "../lib/docker.mjs";
import { exitProblems, hasAdminPlaceholder, REPO_ROOT, startAdapter, startProxy } from "../lib/proxy.mjs";
import { median } from "../lib/stats.mjs";
import { TARGETS } from "../lib/targets.mjs";
import { describeLoad, httpLoadRounds } from "./http-load.mjs";

const PATHS = ["unhooked", "hooked"];
const NOOP_ADAPTER = join(REPO_ROOT, "bench/baselines/noop-adapter.mjs");
const CLI = join(REPO_ROOT, "packages/cli/bin/powerstrip.js");
const CLI_DIST = join(REPO_ROOT, "packages/cli/dist/main.js");
const SDK_DIST = join(REPO_ROOT, "packages/adapter-sdk/dist/index.js");
/** The hook keys the no-op adapter declares, each a pre-hook. */
const NOOP_HOOKS = ["GET /_ping", "GET /containers/json"];

/**
 * What a hook costs. Two fresh proxies on the same engine, started with the same command:
 * `unhooked` (no adapters) and `hooked` (the no-op adapter of baselines/noop-adapter.mjs, a child
 * process serving on a unix socket, loaded with `powerstrip load --url`). The same traffic goes
 * through each, interleaved: GET /_ping at concurrency 1 (the added p50 is the hook's fixed cost)
 * and GET /containers/json?all=1 at concurrency 16 (hooked throughput against unhooked), with the
 * CPU of each proxy and of the adapter per request.
 */
export async function hooks(ctx) {
  const unmet = prerequisites(ctx.opts.proxyCmd);
  if (unmet) {
    // Another proxy (--proxy-cmd) may have no admin API: in the default run that is no failure.
    if (ctx.opts.onlyGiven) throw new Error(unmet);
    ctx.log(`  skipped: ${unmet}`);
    return { skipped: unmet, rows: [] };
  }
  ctx.describe = describeLoad;
  const procs = {};
  // Stopped in this order: the hooked proxy unloads the adapter on its way out, then the adapter.
  const stopAll = async () => {
    const exits = {};
    for (const name of ["hooked proxy", "adapter", "unhooked proxy"]) {
      if (procs[name]) exits[name] = await procs[name].stop();
    }
    return exits;
  };
  ctx.stoppers.add(stopAll); // Ctrl-C, SIGTERM: the run's cleanup stops them too
  const sent = { unhooked: 0, hooked: 0 };
  const result = { rows: [] };
  let ids = [];
  let measured = false;
  try {
    const start = (name, promise) =>
      promise.then((proc) => {
        procs[name] = proc;
        ctx.log(`  ${name}: pid ${proc.pid} on ${proc.socketPath}`);
        return proc;
      });
    const startOne = () => startProxy({ cmd: ctx.opts.proxyCmd, dockerSocket: ctx.opts.dockerSocket });
    const unhooked = await start("unhooked proxy", startOne());
    const hooked = await start("hooked proxy", startOne());
    const adapter = await start("adapter", startAdapter({ script: NOOP_ADAPTER }));
    result.adapter = await loadAdapter(ctx, hooked.adminAddress, adapter.address);

    const sockets = { unhooked: unhooked.socketPath, hooked: hooked.socketPath };
    const processes = {
      unhooked: { proxy: unhooked.pid },
      hooked: { proxy: hooked.pid, adapter: adapter.pid },
    };
    ctx.log(`  creating ${ctx.opts.containers} containers running \`sleep infinity\` …`);
    ids = await createMany(ctx.docker, ctx.registry, ctx.opts.containers, {
      Image: ctx.opts.image,
      Cmd: ["sleep", "infinity"],
    });
    const present = await checkSameListing(ctx, sockets, sent);
    const common = { paths: PATHS, sockets, processes, sent };
    const ping = await httpLoadRounds(ctx, {
      ...common,
      label: "hooks: _ping c1",
      path: "/_ping",
      concurrency: 1,
    });
    const list = await httpLoadRounds(ctx, {
      ...common,
      label: `hooks: containers/json?all=1 c16 [${present} ctrs]`,
      path: "/containers/json?all=1",
      concurrency: 16,
    });
    measured = true;
    result.containersListed = present;
    result.results = [
      {
        label: "hooks: _ping c1",
        concurrency: 1,
        rounds: ping,
        addedP50MsPerRound: addedPerRound(ping, "p50Ms"),
      },
      {
        label: `hooks: containers/json?all=1 c16 [${present} ctrs]`,
        concurrency: 16,
        rounds: list,
        addedP50MsPerRound: addedPerRound(list, "p50Ms"),
      },
    ];
    result.rows = [
      ...rows("hooks: _ping c1", ping, { addedP50Ms: TARGETS.hookAddedP50Ms }),
      ...rows(`hooks: containers/json?all=1 c16 [${present} ctrs]`, list, {
        rpsRatio: TARGETS.hookedC16Ratio,
      }),
    ];
    return result;
  } finally {
    if (ids.length) await removeTracked(ctx.docker, ctx.registry, ids);
    const exits = await stopAll();
    ctx.stoppers.delete(stopAll);
    result.processes = checkProcesses(ctx, procs, exits);
    result.requestsSent = sent;
    // Every request through the hooked proxy must have gone through the pre-hook, once.
    const calls = /bench-noop: answered (\d+) hook calls/.exec(procs.adapter?.output() ?? "");
    result.adapterCalls = calls ? Number(calls[1]) : null;
    if (measured && result.adapterCalls === null) {
      ctx.problem(
        "hooks: the adapter did not say how many hook calls it answered (it did not exit by itself?)",
      );
    } else if (measured && result.adapterCalls !== sent.hooked) {
      ctx.problem(
        `hooks: the adapter answered ${result.adapterCalls} hook calls for ${sent.hooked} requests completed through the hooked proxy`,
      );
    }
  }
}

/** Why the scenario cannot run, or null. */
function prerequisites(proxyCmd) {
  if (!hasAdminPlaceholder(proxyCmd)) {
    return "the proxy command has no {admin} placeholder: the scenario loads its adapter through the proxy's admin API (--admin {admin})";
  }
  for (const [file, what] of [
    [CLI_DIST, "the CLI"],
    [SDK_DIST, "the adapter SDK"],
  ]) {
    if (!existsSync(file)) return `${what} is not built (${file} is missing): run \`npm run build\` first`;
  }
  return null;
}

/** `powerstrip --admin … load --url … --json`, as an operator would; the adapter's hooks are live once it returns. */
async function loadAdapter(ctx, adminAddress, url) {
  const args = [CLI, "--admin", adminAddress, "load", "--url", url, "--json"];
  const { stdout } = await new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error)
        reject(
          new Error(
            `powerstrip load failed (${error.code ?? error.signal}): ${stderr.trim() || error.message}`,
          ),
        );
      else resolve({ stdout, stderr });
    });
  });
  const info = JSON.parse(stdout);
  const declared = (info.hooks ?? []).map((h) => `${h.stage} ${h.method} ${h.path}`).sort();
  const expected = NOOP_HOOKS.map((key) => `pre ${key}`).sort();
  if (info.state !== "ready" || declared.join() !== expected.join()) {
    throw new Error(
      `powerstrip load: expected ${info.name} ready with ${expected.join(", ")}; got state ${info.state}, hooks ${declared.join(", ")}`,
    );
  }
  ctx.log(`  loaded ${info.name} (${declared.join(", ")}) from ${url}`);
  return info;
}

/** Before timing anything: both proxies must list the same containers. Returns how many. */
async function checkSameListing(ctx, sockets, sent) {
  const ids = async (via) => {
    const listed = await dockerClient(sockets[via]).json("GET", "/containers/json?all=1");
    sent[via]++;
    return listed.map((c) => c.Id).sort();
  };
  const [unhooked, hooked] = [await ids("unhooked"), await ids("hooked")];
  if (unhooked.join() !== hooked.join()) {
    ctx.problem(
      `hooks: containers/json lists ${unhooked.length} containers through the unhooked proxy, ${hooked.length} through the hooked one`,
    );
  }
  return unhooked.length;
}

function addedPerRound(rounds, key) {
  return rounds.hooked.map((r, i) => r[key] - rounds.unhooked[i][key]);
}

/** req/s (with both CPUs), p50, p99: unhooked vs hooked, medians over rounds. */
function rows(label, rounds, { addedP50Ms, rpsRatio }) {
  const m = (via, key) => median(rounds[via].map((r) => r[key]));
  const row = (metric, key) => ({
    scenario: label,
    metric,
    paths: PATHS,
    unhooked: m("unhooked", key),
    hooked: m("hooked", key),
  });
  return [
    {
      ...row("req/s", "rps"),
      target: rpsRatio ? { op: ">=", ratio: rpsRatio } : null,
      cpu: {
        value: m("hooked", "proxyCpuMsPerReq"),
        unit: "ms/req",
        max: null,
        base: m("unhooked", "proxyCpuMsPerReq"),
      },
      adapterCpu: { value: m("hooked", "adapterCpuMsPerReq"), unit: "ms/req" },
    },
    { ...row("p50 ms", "p50Ms"), target: addedP50Ms ? { op: "<=", addedMs: addedP50Ms } : null },
    row("p99 ms", "p99Ms"),
  ];
}

/** Each process must stop by itself on SIGTERM and print nothing unexpected meanwhile. */
function checkProcesses(ctx, procs, exits) {
  const expected = {
    "unhooked proxy": /listening on|shutting down/,
    "hooked proxy": /listening on|shutting down/,
    adapter: / bench-noop info: |^bench-noop: answered \d+ hook calls$/,
  };
  const out = {};
  for (const [name, proc] of Object.entries(procs)) {
    out[name] = { pid: proc.pid, command: proc.command, exit: exits[name] ?? null, output: proc.output() };
    for (const problem of exitProblems(
      `the hooks scenario's ${name}`,
      exits[name],
      proc.output(),
      expected[name],
    )) {
      ctx.problem(problem);
    }
  }
  return out;
}
