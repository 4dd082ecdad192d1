import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

/** Kernel clock ticks per second: /proc/<pid>/stat counts CPU time in these. */
export const CLK_TCK = readClockTicks();

function readClockTicks() {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process, in ms (resolution 1000 / CLK_TCK ms, 10 ms at 100 Hz). */
export function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after its closing ")" do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  return ((utime + stime) * 1000) / CLK_TCK;
}

/** VmRSS and VmHWM (peak RSS) of a process, in KiB. */
export function processMemKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/**
 * Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux >= 4.0, needs the right to
 * ptrace the process), so VmHWM afterwards is the peak of the transfer alone.
 */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples VmRSS every `intervalMs` until stop(). The sampler shares this process's event loop
 * with the transfer it watches, so intervals can stretch: VmHWM (read at stop) catches any peak
 * that falls between two samples.
 */
export function sampleRss(pid, intervalMs = 50) {
  const baseline = processMemKiB(pid).rss;
  const hwmReset = resetPeakRss(pid);
  let peak = baseline;
  let samples = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, processMemKiB(pid).rss);
      samples++;
    } catch {
      // the process is gone; stop() reports what was seen
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const { rss, hwm } = processMemKiB(pid);
      peak = Math.max(peak, rss);
      return {
        baselineKiB: baseline,
        peakSampledKiB: peak,
        hwmKiB: hwm,
        hwmReset,
        samples,
        // With a reset VmHWM the true peak is known; otherwise the sampled peak is all we have.
        growthKiB: (hwmReset ? Math.max(peak, hwm) : peak) - baseline,
      };
    },
  };
}

/** Whole-machine CPU counters from /proc/stat, to tell how busy the machine was during a window. */
export function machineCpu() {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = values[3] + (values[4] ?? 0); // idle + iowait
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle, total };
}

/** Fraction of all cores busy between two machineCpu() readings. */
export function busyFraction(before, after) {
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : Number.NaN;
}
