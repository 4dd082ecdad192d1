import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BUILT_PROXY = join(REPO_ROOT, "apps/proxy/bin/powerstrip-proxy.js");
const BUILT_PROXY_DIST = join(REPO_ROOT, "apps/proxy/dist/cli.js");

/**
 * The built proxy, each instance with its own admin socket and state dir in its temp dir: the
 * daemon's defaults (/run/powerstrip/admin.sock, /var/lib/powerstrip) belong to a real proxy on
 * this host, and the hooks scenario runs two proxies side by side.
 */
export function defaultProxyCmd() {
  // Run as users do: the file itself, whose shebang gives V8 its flags.
  return `${shellQuote(BUILT_PROXY)} --listen {listen} --docker {docker} --admin {admin} --state-dir {stateDir}`;
}

/** True when the command gives the proxy an admin socket we know ({admin} or {adminPath}). */
export function hasAdminPlaceholder(cmd) {
  return /\{(admin|adminPath)\}/.test(cmd);
}

/**
 * Starts the proxy under test as its own process on a fresh temp unix socket.
 *
 * The command may use the placeholders {listen} (unix:///…sock), {listenPath} (/…sock),
 * {docker}, {dockerPath}, {admin} (unix:///…/admin.sock), {adminPath} and {stateDir} (an empty
 * temp dir); without any, `--listen {listen} --docker {docker}` is appended. `adminAddress` is
 * null unless the command names {admin} or {adminPath}.
 * It runs as `sh -c "exec <cmd>"`, so the pid we read /proc from is the proxy's own as long as
 * the command execs the proxy (a wrapper that forks would hide the proxy's CPU from us).
 */
export async function startProxy({ cmd, dockerSocket }) {
  if (cmd === defaultProxyCmd() && !existsSync(BUILT_PROXY_DIST)) {
    throw new Error(`the proxy is not built (${BUILT_PROXY_DIST} is missing): run \`npm run build\` first`);
  }
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  const paths = {
    listenPath: join(dir, "proxy.sock"),
    adminPath: join(dir, "admin.sock"),
    stateDir: join(dir, "state"),
  };
  mkdirSync(paths.stateDir);
  const command = expandCommand(cmd, paths, dockerSocket);
  const child = spawnChild(dir, "sh", ["-c", `exec ${command}`]);
  try {
    await waitUntilServing(paths.listenPath, child.exitStatus, 15_000);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${error.message}\nproxy command: ${command}\nproxy output:\n${child.output()}`);
  }
  return {
    ...child,
    socketPath: paths.listenPath,
    adminAddress: hasAdminPlaceholder(cmd) ? `unix://${paths.adminPath}` : null,
    command,
  };
}

/**
 * Starts an adapter script (`node SCRIPT`, so the pid is node's own) serving on a fresh temp unix
 * socket named by POWERSTRIP_ADAPTER_SOCKET (plus `env`), and waits until that socket accepts
 * connections.
 */
export async function startAdapter({ script, env = {} }) {
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  const socketPath = join(dir, "adapter.sock");
  const settings = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(String(v))} `);
  const command = `${settings.join("")}POWERSTRIP_ADAPTER_SOCKET=${shellQuote(socketPath)} ${shellQuote(process.execPath)} ${shellQuote(script)}`;
  const child = spawnChild(dir, process.execPath, [script], {
    env: { ...process.env, ...env, POWERSTRIP_ADAPTER_SOCKET: socketPath },
  });
  try {
    await waitUntilAccepting(socketPath, child.exitStatus, 15_000);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${error.message}\nadapter command: ${command}\nadapter output:\n${child.output()}`);
  }
  return { ...child, socketPath, address: `unix://${socketPath}`, command };
}

/**
 * A child process owned by this bench, in its own temp dir (removed when it stops): its output's
 * tail, its exit status, and stop(): SIGTERM, then SIGKILL after 5 s. stop() may be called more
 * than once (a scenario's finally and the run's cleanup on Ctrl-C): it signals once.
 */
function spawnChild(dir, file, args, options = {}) {
  const child = spawn(file, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  // Who owns this process, for reapStaleProxies() after a bench that was killed outright.
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
  // Output can still be in the pipes when "exit" fires; "close" is once they are drained.
  const closed = new Promise((r) => child.once("close", r));
  let stopping = null;
  return {
    pid: child.pid,
    output: () => output,
    exitStatus: () => exit,
    kill: (signal) => child.kill(signal),
    /** SIGTERM, then SIGKILL after 5 s; reports whether the process stopped on its own. */
    stop() {
      stopping ??= (async () => {
        if (exit === null) child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        const status = await exited;
        clearTimeout(timer);
        await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000))]);
        rmSync(dir, { recursive: true, force: true });
        return status;
      })();
      return stopping;
    },
  };
}

/**
 * What went wrong when a child stopped: killed after 5 s, a failing exit status, or output other
 * than the `expected` lines. `what` names it in the messages ("the proxy").
 */
export function exitProblems(what, exit, output, expected = /listening on|shutting down/) {
  const problems = [];
  if (exit && exit.signal === "SIGKILL") problems.push(`${what} did not stop within 5 s of SIGTERM (killed)`);
  else if (exit && exit.code !== 0 && exit.signal !== "SIGTERM") {
    problems.push(`${what} exited with ${JSON.stringify(exit)} on SIGTERM`);
  }
  const unexpected = output.split("\n").filter((l) => l.trim() && !expected.test(l));
  if (unexpected.length) problems.push(`${what} printed:\n    ${unexpected.slice(0, 20).join("\n    ")}`);
  return problems;
}

const DIR_PREFIX = "powerstrip-bench-";

/**
 * A bench killed with SIGKILL leaves its proxies (and the hooks scenario's adapter) running:
 * nothing tells them their parent is gone. Stops such processes: only those whose bench is gone
 * and whose command line (a proxy's --listen) or environment (an adapter's
 * POWERSTRIP_ADAPTER_SOCKET) still names their temp dir, so a reused pid is never hit. Returns how
 * many.
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
      if (namesDir(pids.proxy, dir)) {
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

function namesDir(pid, dir) {
  const read = (what) => {
    try {
      return readFileSync(`/proc/${pid}/${what}`, "utf8");
    } catch {
      return "";
    }
  };
  return read("cmdline").includes(dir) || read("environ").includes(dir);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

const PLACEHOLDERS = /\{(listen|listenPath|docker|dockerPath|admin|adminPath|stateDir)\}/g;

function expandCommand(cmd, { listenPath, adminPath, stateDir }, dockerSocket) {
  const values = {
    listen: `unix://${listenPath}`,
    listenPath,
    docker: `unix://${dockerSocket}`,
    dockerPath: dockerSocket,
    admin: `unix://${adminPath}`,
    adminPath,
    stateDir,
  };
  if (!new RegExp(PLACEHOLDERS.source).test(cmd)) cmd += " --listen {listen} --docker {docker}";
  return cmd.replace(PLACEHOLDERS, (_, key) => shellQuote(values[key]));
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

/** Ready means the socket accepts a connection. */
async function waitUntilAccepting(socketPath, exitStatus, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = exitStatus();
    if (status !== null) throw new Error(`the adapter exited before serving (${JSON.stringify(status)})`);
    if (existsSync(socketPath) && (await accepts(socketPath))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the adapter did not accept connections on ${socketPath} within ${timeoutMs / 1000} s`);
}

function accepts(socketPath) {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
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
