// Seeing what adapters do (issue #7), against the real engine with real clients: the docker CLI
// shows adapters' warnings; a deny-everything policy in shadow mode lets `docker run` through while
// `powerstrip trace --json` (a child process) says would-deny; metrics count it; one request id in
// the log, the trace and the adapter's call; a watcher that does not read loses events, not time.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AdapterHost,
  ProxyMetrics,
  type RunningAdminServer,
  startAdminServer,
  TraceHub,
} from "@powerstrip/adapter-host";
import { defineAdapter, type RunningAdapter, serve } from "@powerstrip/adapter-sdk";
import { type TraceEvent, type TraceHookCall, validateTraceEvent } from "@powerstrip/protocol";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  isDirectMode,
  RUN_LABEL,
  removeLabelled,
  startTestProxy,
  succeeded,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { runCli } from "../../../packages/cli/src/testing/harness.js";
import { createLogger, logDataPath } from "../src/logging.js";

const CLI = join(import.meta.dirname, "..", "..", "..", "packages", "cli", "src", "main.ts");
const silent = { info() {}, warn() {}, error() {} };
const WARNING = "warner: this container has no memory limit";
const DENY = "deny-all: nothing runs here";

/** Every hook call the adapters received, by request id. */
const received: { adapter: string; requestId: string; shadow: boolean | undefined; stage: string }[] = [];

function recorder(name: string, onPre: (body: unknown) => unknown) {
  return defineAdapter({
    name,
    hooks: {
      "POST /containers/create": {
        pre(ctx) {
          received.push({ adapter: name, requestId: ctx.requestId, shadow: ctx.shadow, stage: "pre" });
          return onPre(ctx) as never;
        },
      },
    },
  });
}

describe.skipIf(isDirectMode())("trace, metrics, logs, shadow mode and warnings", () => {
  let dir: string;
  let target: DockerTarget;
  let proxy: RunningProxy;
  let host: AdapterHost;
  let admin: RunningAdminServer;
  let metrics: ProxyMetrics;
  let trace: TraceHub;
  const logLines: string[] = [];
  const adapters: RunningAdapter[] = [];

  const cli = (...argv: string[]) => runCli(["--admin", admin.address, ...argv]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pst-observe-"));
    target = await startTestProxy(async (options) => {
      proxy = await startProxy(options);
      return proxy;
    });
    host = new AdapterHost(proxy.hooks);
    metrics = new ProxyMetrics();
    metrics.observe(proxy.observers);
    // A small bound, so the slow watcher below is over it within a few events.
    trace = new TraceHub(proxy.observers, { maxBufferedBytes: 16 * 1024 });
    logDataPath(
      createLogger({ format: "json", level: "info", sink: { write: (l) => logLines.push(l) } }),
      proxy.observers,
    );
    admin = await startAdminServer({ address: `unix://${join(dir, "admin.sock")}`, host, trace, metrics });
    const warner = recorder("warner", (ctx) => ({
      warnings: [WARNING],
      body: (ctx as { body: unknown }).body,
    }));
    const denyAll = recorder("deny-all", (ctx) =>
      (ctx as { deny(s: number, m: string): unknown }).deny(403, DENY),
    );
    for (const [name, adapter] of [
      ["warner", warner],
      ["deny-all", denyAll],
    ] as const) {
      adapters.push(
        await serve(adapter, { socket: join(dir, `${name}.sock`), handleSignals: false, logger: silent }),
      );
    }
  });

  afterAll(async () => {
    await removeLabelled();
    await admin?.close();
    trace?.close();
    await target?.close();
    await host?.close();
    for (const adapter of adapters) await adapter.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("load --shadow: ls and inspect show it, and the hook call says shadow", async () => {
    expect(await cli("load", "--url", adapters[1]!.address, "--shadow")).toMatchObject({
      code: 0,
      stdout: `loaded deny-all (1 hook) from ${adapters[1]!.address} in shadow mode\n`,
    });
    const listed = JSON.parse((await cli("ls", "--json")).stdout);
    expect(listed).toEqual([expect.objectContaining({ name: "deny-all", shadow: true, state: "ready" })]);
    expect((await cli("ls")).stdout).toMatch(/deny-all .* ready \(shadow\)/);
    expect((await cli("inspect", "deny-all")).stdout).toMatch(/Mode:\s+shadow/);
  });

  it("shadow deny-all: docker run succeeds, trace --json (a child process) says would-deny, metrics count it", async () => {
    const watcher = startTraceCli(admin.address, ["--json", "--adapter", "deny-all"]);
    try {
      await withTimeout(watcher.opened, 15_000, "powerstrip trace to open");
      const before = await scrape(admin.address);
      const name = uniqueName("shadow");
      const result = succeeded(
        await target.docker(["run", "--rm", ...containerFlags(name), BASE_IMAGE, "echo", "ran"]),
      );
      expect(result.stdout.toString()).toBe("ran\n");
      const event = await withTimeout(
        watcher.next((e) => e.type === "hook" && e.decision === "would-deny"),
        15_000,
        "a would-deny event",
      );
      expect(validateTraceEvent(event).ok).toBe(true);
      expect(event).toMatchObject({
        adapter: "deny-all",
        stage: "pre",
        hook: "POST /containers/create",
        method: "POST",
        path: "/containers/create",
        shadow: true,
        status: 403,
        message: DENY,
      });
      const call = received.find(
        (r) => r.adapter === "deny-all" && r.requestId === (event as TraceHookCall).requestId,
      );
      expect(call?.shadow).toBe(true);
      const after = await scrape(admin.address);
      const key = 'powerstrip_hook_denials_total{adapter="deny-all",shadow="true"}';
      expect((after.get(key) ?? 0) - (before.get(key) ?? 0)).toBe(1);
      const calls =
        'powerstrip_hook_calls_total{adapter="deny-all",stage="pre",decision="would-deny",shadow="true"}';
      expect(after.get(calls)).toBeGreaterThanOrEqual(1);
      // Pass-through calls and bytes go up as the docker CLI's calls pass.
      const requests = sum(after, "powerstrip_requests_total") - sum(before, "powerstrip_requests_total");
      expect(requests).toBeGreaterThanOrEqual(4); // create, attach/wait, start, …
      expect(sum(after, "powerstrip_client_sent_bytes_total")).toBeGreaterThan(
        sum(before, "powerstrip_client_sent_bytes_total"),
      );
      // docker run attaches: one tunnel opened, and closed again.
      expect(
        after.get("powerstrip_tunnels_total")! - (before.get("powerstrip_tunnels_total") ?? 0),
      ).toBeGreaterThanOrEqual(1);
      expect(after.get("powerstrip_tunnels_open")).toBe(0);
      // Filtered server-side: only deny-all's events reached this watcher.
      expect(watcher.events().every((e) => e.type !== "hook" || e.adapter === "deny-all")).toBe(true);
    } finally {
      await watcher.stop();
    }
  });

  it("an adapter's warning reaches the docker CLI (docker create and docker run)", async () => {
    expect((await cli("load", "--url", adapters[0]!.address)).code).toBe(0);
    const created = succeeded(
      await target.docker(["create", ...containerFlags(uniqueName("warned")), BASE_IMAGE, "true"]),
    );
    expect(created.stderr.toString()).toContain(`WARNING: ${WARNING}`);
    const ran = succeeded(
      await target.docker(["run", "--rm", ...containerFlags(uniqueName("warned")), BASE_IMAGE, "echo", "ok"]),
    );
    expect(ran.stderr.toString()).toContain(`WARNING: ${WARNING}`);
    expect(ran.stdout.toString()).toBe("ok\n");
  });

  it("one request id in the adapter's call, the trace event and the log line", async () => {
    const ws = await openTrace(admin.address, "?adapter=warner");
    try {
      const next = ws.next((e) => e.type === "hook" && e.adapter === "warner");
      const dockerode = target.dockerode();
      const container = await dockerode.createContainer({
        Image: BASE_IMAGE,
        Cmd: ["true"],
        name: uniqueName("rid"),
        Labels: runLabel(),
      });
      expect(container.id).toMatch(/^[0-9a-f]{64}$/);
      const event = (await withTimeout(next, 10_000, "the warner's trace event")) as TraceHookCall;
      expect(event).toMatchObject({ decision: "rewrite", warnings: [WARNING] });
      expect(received.some((r) => r.adapter === "warner" && r.requestId === event.requestId)).toBe(true);
      const logged = logLines
        .map((l) => JSON.parse(l))
        .find((l) => l.requestId === event.requestId && l.adapter === "warner");
      expect(logged).toMatchObject({ adapter: "warner", decision: "rewrite", msg: "hook rewrite" });
    } finally {
      ws.close();
    }
  });

  it("a watcher that does not read loses events, not time: calls stay fast and it is told how many it missed", async () => {
    // Big events (a 32 KiB warning each) fill the socket buffers within a few calls.
    const loud = defineAdapter({
      name: "loud",
      hooks: { "POST /containers/create": { pre: () => ({ warnings: ["z".repeat(32 * 1024)] }) } },
    });
    adapters.push(
      await serve(loud, { socket: join(dir, "loud.sock"), handleSignals: false, logger: silent }),
    );
    expect((await cli("load", "--url", adapters.at(-1)!.address)).code).toBe(0);
    const ws = await openTrace(admin.address, "?adapter=loud");
    const raw = (ws.socket as unknown as { _socket: import("node:net").Socket })._socket;
    raw.pause(); // reads nothing from here on
    const slowest = await timeCreates(target, 60);
    // Events were kept back for it: it got fewer than it would have, and now a dropped notice.
    raw.resume();
    // The hub sends the notice with the watcher's next event: one more call after resuming.
    await timeCreates(target, 1);
    const dropped = (await withTimeout(
      ws.next((e) => e.type === "dropped"),
      10_000,
      "a dropped notice",
    )) as Extract<TraceEvent, { type: "dropped" }>;
    expect(dropped.dropped).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(2000);
    ws.close();
  });
});

function runLabel(): Record<string, string> {
  const [key, value] = RUN_LABEL.split("=") as [string, string];
  return { [key]: value };
}

/** Creates `count` containers through the proxy with dockerode; the slowest call, in ms. */
async function timeCreates(target: DockerTarget, count: number): Promise<number> {
  const dockerode = target.dockerode();
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await dockerode.createContainer({
      Image: BASE_IMAGE,
      Cmd: ["true"],
      name: uniqueName("slow"),
      Labels: runLabel(),
    });
    slowest = Math.max(slowest, performance.now() - started);
  }
  return slowest;
}

interface EventStream {
  events(): TraceEvent[];
  next(match: (event: TraceEvent) => boolean): Promise<TraceEvent>;
}

function eventStream(): EventStream & { push(event: TraceEvent): void } {
  const all: TraceEvent[] = [];
  const waiters: { match: (e: TraceEvent) => boolean; resolve: (e: TraceEvent) => void }[] = [];
  return {
    events: () => all,
    push(event) {
      all.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    },
    next(match) {
      const seen = all.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** `powerstrip trace --json …` as a child process; events parsed from its stdout. */
function startTraceCli(address: string, args: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", CLI, "--admin", address, "trace", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const stream = eventStream();
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    let newline = stdout.indexOf("\n");
    while (newline !== -1) {
      stream.push(JSON.parse(stdout.slice(0, newline)) as TraceEvent);
      stdout = stdout.slice(newline + 1);
      newline = stdout.indexOf("\n");
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const opened = new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("tracing hook calls at")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`powerstrip trace exited ${code}: ${stderr}`)));
  });
  return {
    ...stream,
    opened,
    async stop() {
      child.kill("SIGINT");
      await exited;
    },
  };
}

/** A raw WebSocket watcher of `GET /trace`. */
async function openTrace(address: string, query: string) {
  const socket = new WebSocket(`ws+unix://${address.slice("unix://".length)}:/trace${query}`);
  const stream = eventStream();
  socket.on("message", (data) => stream.push(JSON.parse(data.toString()) as TraceEvent));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return { ...stream, socket, close: () => socket.terminate() };
}

/** GET /metrics on the admin socket, parsed: `name{labels}` → value. */
async function scrape(address: string): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({ socketPath: address.slice("unix://".length), path: "/metrics" }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(body))));
    });
    req.on("error", reject);
    req.end();
  });
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const at = line.lastIndexOf(" ");
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

function sum(values: Map<string, number>, name: string): number {
  let total = 0;
  for (const [key, value] of values) if (key === name || key.startsWith(`${name}{`)) total += value;
  return total;
}
