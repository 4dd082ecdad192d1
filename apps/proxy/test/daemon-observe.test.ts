// The daemon's own observability wiring (main.ts, observability.ts), as an operator runs it:
// `--metrics tcp://127.0.0.1:0` serves GET /metrics on the port the readiness line names, and drops
// an unloaded adapter's series; `--log-format json` writes pino lines whose requestId is the one
// the adapter received; `--log-level warn` still writes the readiness line and shows adapter
// failures; the admin socket refuses /trace requests that are not a WebSocket upgrade to it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeLabelled, uniqueName, withTimeout } from "@powerstrip/test-support";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type Daemon, kill9, powerstrip, said, startDaemon } from "./support/daemon.js";
import { startFaultAdapter } from "./support/fault-adapter.js";

const daemons: Daemon[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await Promise.all(daemons.splice(0).map(kill9));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await removeLabelled();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pst-dobs-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(
  dir: string,
  extra: string[],
): Promise<{ daemon: Daemon; socket: string; admin: string }> {
  const socket = join(dir, "docker.sock");
  const admin = join(dir, "admin.sock");
  const daemon = startDaemon([
    "--listen",
    `unix://${socket}`,
    "--admin",
    `unix://${admin}`,
    "--state-dir",
    join(dir, "state"),
    ...extra,
  ]);
  daemons.push(daemon);
  await said(daemon, /listening on/, "the daemon to listen");
  return { daemon, socket, admin };
}

/** Writes `request` on a fresh connection and collects everything until the peer closes. */
function exchange(
  target: { path: string } | { host: string; port: number },
  request: string,
): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      const socket = connect(target as never);
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.once("error", reject);
      socket.once("close", () => resolve(Buffer.concat(chunks).toString()));
      socket.once("connect", () => socket.write(request));
    }),
    10_000,
    "an answer",
  );
}

function get(path: string, headers: string[] = []): string {
  return [`GET ${path} HTTP/1.1`, "Host: x", "Connection: close", ...headers, "", ""].join("\r\n");
}

const UPGRADE = [
  "Connection: Upgrade",
  "Upgrade: websocket",
  "Sec-WebSocket-Version: 13",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
];

describe("powerstrip-proxy: its own metrics port, JSON logs and levels", () => {
  it("--metrics tcp://127.0.0.1:0 and --log-format json: served, named in the readiness line, one requestId", async () => {
    const dir = tempDir();
    const { daemon, socket, admin } = await start(dir, [
      "--metrics",
      "tcp://127.0.0.1:0",
      "--log-format",
      "json",
    ]);
    const lines = () =>
      daemon
        .stderr()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ready = lines().find((l) => String(l.msg).startsWith("listening on"))!;
    expect(ready).toMatchObject({ level: 30, name: "powerstrip-proxy" });
    const port = Number(/; metrics on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(String(ready.msg))?.[1]);
    expect(port).toBeGreaterThan(0);

    const name = uniqueName("denier");
    const requestIds: string[] = [];
    const denier = await startFaultAdapter({
      name,
      failurePolicy: "fail",
      timeoutMs: 5_000,
      hooks: [{ method: "GET", path: "/version" }],
      fault: (message) => {
        requestIds.push(message.requestId as string);
        return { kind: "json", body: { action: "deny", status: 403, message: "not here" } };
      },
    });
    cleanups.push(() => denier.close());
    expect((await powerstrip(`unix://${admin}`, "load", "--url", denier.url)).code).toBe(0);
    expect(await exchange({ path: socket }, get("/v1.41/version"))).toMatch(/^HTTP\/1\.1 403 /);

    const metrics = await exchange({ host: "127.0.0.1", port }, get("/metrics"));
    expect(metrics).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(metrics).toContain(
      `powerstrip_hook_calls_total{adapter="${name}",stage="pre",decision="deny",shadow="false"} 1`,
    );
    expect(metrics).toContain(`powerstrip_hook_denials_total{adapter="${name}",shadow="false"} 1`);
    expect(metrics).toContain("powerstrip_process_cpu_seconds_total");
    expect(await exchange({ host: "127.0.0.1", port }, get("/other"))).toMatch(/^HTTP\/1\.1 404 /);

    await withTimeout(
      (async () => {
        while (!lines().some((l) => l.msg === "hook deny")) await new Promise((r) => setTimeout(r, 50));
      })(),
      5_000,
      "the hook deny log line",
    );
    expect(lines().find((l) => l.msg === "hook deny")).toMatchObject({
      level: 30,
      requestId: requestIds[0],
      adapter: name,
      decision: "deny",
      status: 403,
    });
    expect(requestIds).toHaveLength(1);

    // Unloaded: its series are gone from the scrape.
    expect((await powerstrip(`unix://${admin}`, "unload", name)).code).toBe(0);
    expect(await exchange({ host: "127.0.0.1", port }, get("/metrics"))).not.toContain(`adapter="${name}"`);
  });

  it("--log-level warn: the readiness line still, and adapter failures at warn", async () => {
    const dir = tempDir();
    // A persisted adapter that is not there any more: its restore fails.
    mkdirSync(join(dir, "state"), { recursive: true });
    writeFileSync(
      join(dir, "state", "adapters.json"),
      JSON.stringify({
        version: 1,
        adapters: [{ name: "gone", source: "url", url: `unix://${join(dir, "nothing.sock")}` }],
        unloadedBootImages: [],
      }),
    );
    const { daemon } = await start(dir, ["--log-level", "warn"]);
    await said(daemon, /adapter gone failed/, "the failure to be logged", 10_000);
    const stderr = daemon.stderr();
    expect(stderr).toMatch(/^powerstrip-proxy: listening on unix:\/\//m);
    expect(stderr).toMatch(/^powerstrip-proxy: warn: adapter gone failed: /m);
    daemon.child.kill("SIGTERM");
    expect(await withTimeout(daemon.exited, 5_000, "the daemon to exit")).toBe(0);
    expect(daemon.stderr()).toContain("SIGTERM, shutting down");
  });
});

describe("powerstrip-proxy: the admin socket's /trace refusals", () => {
  it.each([
    ["a plain GET /trace", get("/trace"), /^HTTP\/1\.1 426 /, "GET /trace is a WebSocket"],
    [
      "an upgrade with a bad filter",
      get("/trace?path=nope", UPGRADE),
      /^HTTP\/1\.1 400 /,
      "invalid trace request: path must start with /",
    ],
    ["an unknown parameter", get("/trace?who=me", UPGRADE), /^HTTP\/1\.1 400 /, "unknown parameter who"],
    [
      "an upgrade elsewhere",
      get("/adapters", UPGRADE),
      /^HTTP\/1\.1 404 /,
      "no such admin API upgrade: GET /adapters",
    ],
  ])("refuses %s", async (_what, request, status, message) => {
    const dir = tempDir();
    const { admin } = await start(dir, []);
    const answer = await exchange({ path: admin }, request);
    expect(answer).toMatch(status);
    expect(answer).toContain(message);
  });
});
