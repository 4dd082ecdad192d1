import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BUILT_PROXY = join(REPO_ROOT, "apps/proxy/bin/powerstrip-proxy.js");
const BUILT_PROXY_DIST = join(REPO_ROOT, "apps/proxy/dist/cli.js");

export function defaultProxyCmd() {
  return `${shellQuote(process.execPath)} ${shellQuote(BUILT_PROXY)}`;
}

/**
 * Starts the proxy under test as its own process on a fresh temp unix socket.
 *
 * The command may use the placeholders {listen} (unix:///…sock), {listenPath} (/…sock),
 * {docker} and {dockerPath}; without any, `--listen {listen} --docker {docker}` is appended.
 * It runs as `sh -c "exec <cmd>"`, so the pid we read /proc from is the proxy's own as long as
 * the command execs the proxy (a wrapper that forks would hide the proxy's CPU from us).
 */
export async function startProxy({ cmd, dockerSocket }) {
  if (cmd === defaultProxyCmd() && !existsSync(BUILT_PROXY_DIST)) {
    throw new Error(`the proxy is not built (${BUILT_PROXY_DIST} is missing): run \`npm run build\` first`);
  }
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  const listenPath = join(dir, "proxy.sock");
  const command = expandCommand(cmd, listenPath, dockerSocket);
  const child = spawn("sh", ["-c", `exec ${command}`], { stdio: ["ignore", "pipe", "pipe"] });
  // Who owns this proxy, for reapStaleProxies() after a bench that was killed outright.
  writeFileSync(join(dir, "pids.json"), JSON.stringify({ bench: process.pid, proxy: child.pid }));
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-64 * 1024); // the tail is what matters
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exit = null;
  const exited = new Promise((r) =>
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      r(exit);
    }),
  );

  try {
    await waitUntilServing(listenPath, () => exit, 15_000);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${error.message}\nproxy command: ${command}\nproxy output:\n${output}`);
  }

  return {
    pid: child.pid,
    socketPath: listenPath,
    command,
    output: () => output,
    exitStatus: () => exit,
    /** SIGTERM, then SIGKILL after 5 s; reports whether the proxy stopped on its own. */
    async stop() {
      if (exit === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      const status = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return status;
    },
  };
}

const DIR_PREFIX = "powerstrip-bench-";

/**
 * A bench killed with SIGKILL leaves its proxy running (nothing tells it its parent is gone).
 * Stops such proxies: only those whose bench is gone and whose command line still names the
 * socket in their temp dir (so a reused pid is never hit). Returns how many.
 */
export function reapStaleProxies() {
  let reaped = 0;
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    let pids;
    try {
      pids = JSON.parse(readFileSync(join(dir, "pids.json"), "utf8"));
    } catch {
      continue; // being set up by a running bench, or not ours
    }
    if (alive(pids.bench)) continue;
    try {
      if (readFileSync(`/proc/${pids.proxy}/cmdline`, "utf8").includes(dir)) {
        process.kill(pids.proxy, "SIGTERM");
        reaped++;
      }
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return reaped;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

function expandCommand(cmd, listenPath, dockerSocket) {
  const values = {
    listen: `unix://${listenPath}`,
    listenPath,
    docker: `unix://${dockerSocket}`,
    dockerPath: dockerSocket,
  };
  if (!/\{(listen|listenPath|docker|dockerPath)\}/.test(cmd)) cmd += " --listen {listen} --docker {docker}";
  return cmd.replace(/\{(listen|listenPath|docker|dockerPath)\}/g, (_, key) => shellQuote(values[key]));
}

/** Ready means answering GET /_ping with 200 through the proxy, whatever the proxy prints. */
async function waitUntilServing(socketPath, exitStatus, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = exitStatus();
    if (status !== null) throw new Error(`the proxy exited before serving (${JSON.stringify(status)})`);
    if (existsSync(socketPath) && (await ping(socketPath)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the proxy did not answer /_ping on ${socketPath} within ${timeoutMs / 1000} s`);
}

export function ping(socketPath) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: "/_ping", agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

function shellQuote(value) {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
