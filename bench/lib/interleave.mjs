import { busyFraction, machineCpu, processCpuMs } from "./proc.mjs";

/** The two paths most scenarios compare; a scenario may name its own (hooks: unhooked, hooked). */
export const PATHS = ["direct", "proxy"];

/**
 * Warms both paths up, then measures them in alternation (direct, proxy, direct, proxy, …), so
 * that drift on a shared machine (other work, engine caches, the proxy's JIT) falls on both
 * paths alike. Returns every round's result per path; callers report medians. `paths` names the
 * two paths (default direct, proxy); `warmup` and `measure` get a path's name.
 */
export async function interleave(ctx, label, { warmup, measure, paths = PATHS }) {
  for (const path of paths) {
    ctx.log(`  ${label}: warming up ${path}`);
    await warmup(path);
  }
  const rounds = Object.fromEntries(paths.map((path) => [path, []]));
  for (let round = 0; round < ctx.opts.rounds; round++) {
    for (const path of paths) {
      const busy = machineWindow();
      const result = await measure(path, round);
      result.machineBusy = busy.end();
      rounds[path].push(result);
      ctx.log(`  ${label}: round ${round + 1}/${ctx.opts.rounds} ${path}: ${ctx.describe?.(result) ?? ""}`);
    }
  }
  return rounds;
}

/** How busy all cores were during a window (0..1): the other work on a shared machine shows here. */
function machineWindow() {
  const before = machineCpu();
  return { end: () => busyFraction(before, machineCpu()) };
}

/**
 * Brackets a window with readings of the proxy's CPU time (utime + stime from /proc). For the
 * direct path there is no proxy process, and the result is null.
 */
export function proxyCpuWindow(ctx, path) {
  if (path !== "proxy") return { start() {}, end() {}, ms: () => null };
  let before = 0;
  let after = 0;
  return {
    start() {
      before = processCpuMs(ctx.proxy.pid);
    },
    end() {
      after = processCpuMs(ctx.proxy.pid);
    },
    ms: () => after - before,
  };
}

/**
 * Brackets a window with readings of several processes' CPU time, `{ name: pid }`; ms() gives
 * `{ name: ms }` (utime + stime over the window, all threads).
 */
export function processesCpuWindow(pids) {
  const names = Object.keys(pids);
  let before = {};
  let after = {};
  const read = () => Object.fromEntries(names.map((name) => [name, processCpuMs(pids[name])]));
  return {
    start() {
      before = read();
    },
    end() {
      after = read();
    },
    ms: () => Object.fromEntries(names.map((name) => [name, after[name] - before[name]])),
  };
}
