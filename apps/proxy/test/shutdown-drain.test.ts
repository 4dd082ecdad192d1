// SIGTERM drains: the daemon stops taking clients at once, lets the calls in flight finish (a
// hooked call whose adapter is slow, a container wait), closes idle connections at once, cuts
// follow streams at --shutdown-timeout, and exits 0 with its sockets removed.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BASE_IMAGE,
  DIRECT_SOCKET,
  dockerodeFor,
  RawConnection,
  removeLabelled,
  StreamCollector,
  spawnClient,
  testLabels,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type Daemon, kill9, powerstrip, said, startDaemon } from "./support/daemon.js";
import { type FaultAdapter, startFaultAdapter } from "./support/fault-adapter.js";

const engine = dockerodeFor(DIRECT_SOCKET);
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
  const dir = mkdtempSync(join(tmpdir(), "pst-drain-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(
  dir: string,
  shutdownTimeoutS: number,
): Promise<{ daemon: Daemon; socket: string; admin: string }> {
  const socket = join(dir, "docker.sock");
  const admin = `unix://${join(dir, "admin.sock")}`;
  const daemon = startDaemon([
    "--listen",
    `unix://${socket}`,
    "--admin",
    admin,
    "--state-dir",
    join(dir, "state"),
    "--shutdown-timeout",
    String(shutdownTimeoutS),
  ]);
  daemons.push(daemon);
  await said(daemon, /listening on/, "the daemon to listen");
  return { daemon, socket, admin };
}

/** A raw connection whose every byte is collected (for a response whose head comes long before its body). */
function rawCollector(
  socketPath: string,
  request: string,
): Promise<{ socket: Socket; bytes: StreamCollector }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.write(request);
      resolve({ socket, bytes: new StreamCollector(socket) });
    });
  });
}

async function runContainer(cmd: string): Promise<string> {
  const container = await engine.createContainer({
    name: uniqueName("drain"),
    Image: BASE_IMAGE,
    Cmd: ["sh", "-c", cmd],
    Labels: testLabels(),
  });
  await container.start();
  return container.id;
}

/** An adapter with a 60 s timeout that never answers its hook calls on GET /version. */
async function hungAdapter(name: string): Promise<{ adapter: FaultAdapter; called: Promise<void> }> {
  let called!: () => void;
  const calledPromise = new Promise<void>((resolve) => {
    called = resolve;
  });
  const adapter = await startFaultAdapter({
    name: uniqueName(name),
    failurePolicy: "fail",
    timeoutMs: 60_000,
    hooks: [{ method: "GET", path: "/version" }],
    fault: () => {
      called();
      return { kind: "hang" };
    },
  });
  cleanups.push(() => adapter.close());
  return { adapter, called: calledPromise };
}

describe("powerstrip-proxy on SIGTERM", () => {
  it("finishes the calls in flight, closes idle connections at once, cuts a logs -f at the bound, exits 0", async () => {
    const BOUND_S = 5;
    const dir = tempDir();
    const { daemon, socket, admin } = await start(dir, BOUND_S);

    // A hooked call held 1.5 s by its adapter.
    let hookCalled!: () => void;
    const hooked = new Promise<void>((resolve) => {
      hookCalled = resolve;
    });
    const slow: FaultAdapter = await startFaultAdapter({
      name: "slow-drain",
      failurePolicy: "fail",
      timeoutMs: 10_000,
      hooks: [{ method: "GET", path: "/version" }],
      fault: () => {
        hookCalled();
        return { kind: "late", ms: 1_500, body: { action: "allow" } };
      },
    });
    cleanups.push(() => slow.close());
    expect((await powerstrip(admin, "load", "--url", slow.url)).code).toBe(0);

    // A follow stream that never ends by itself.
    const ticker = await runContainer("while :; do echo tick; sleep 0.2; done");
    const follow = spawnClient("docker", socket, ["logs", "-f", ticker], { timeoutMs: 30_000 });
    cleanups.push(() => {
      follow.child.kill("SIGKILL");
    });
    await follow.waitForStdout(/tick/, 10_000);

    // An idle keep-alive connection.
    const idle = await RawConnection.open(socket);
    cleanups.push(() => idle.destroy());
    idle.send({ method: "GET", path: "/_ping" });
    expect((await idle.readResponse("GET")).status).toBe(200);

    // A container wait: the engine answers its head at once and its body when the container exits.
    const waiter = await runContainer("sleep 2.5; exit 3");
    const wait = await rawCollector(
      socket,
      `POST /v1.41/containers/${waiter}/wait HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n`,
    );
    cleanups.push(() => {
      wait.socket.destroy();
    });
    await wait.bytes.waitFor((b) => b.includes("\r\n\r\n"), 10_000, "the wait's response head");

    const version = await rawCollector(socket, "GET /v1.41/version HTTP/1.1\r\nHost: docker\r\n\r\n");
    cleanups.push(() => {
      version.socket.destroy();
    });
    await withTimeout(hooked, 10_000, "the slow adapter to be called");

    const signalled = Date.now();
    daemon.child.kill("SIGTERM");

    // Idle: closed at once. New clients: refused at once (the socket file is gone).
    await idle.readToEnd(1_000);
    expect(Date.now() - signalled).toBeLessThan(1_000);
    expect(existsSync(socket)).toBe(false);

    // The hooked call completes after the signal, with its adapter's verdict, and closes.
    const versionBytes = (await version.bytes.waitForEnd(5_000)).toString();
    expect(versionBytes).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(versionBytes).toContain("\r\nConnection: close\r\n");
    expect(versionBytes).toContain('"ApiVersion"');

    // The wait completes when the container exits, after the signal.
    const waitBytes = (await wait.bytes.waitForEnd(BOUND_S * 1000)).toString();
    const waitDone = Date.now();
    expect(waitBytes).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(waitBytes).toContain('"StatusCode":3');
    expect(waitDone - signalled).toBeLessThan(BOUND_S * 1000);

    // The follow stream runs until the bound, then is cut; the client ends rather than hangs.
    await withTimeout(follow.exited, BOUND_S * 1000 + 3_000, "docker logs -f to end");
    const followEnded = Date.now() - signalled;
    expect(followEnded).toBeGreaterThanOrEqual(BOUND_S * 1000 - 250);

    expect(await withTimeout(daemon.exited, BOUND_S * 1000 + 3_000, "the daemon to exit")).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(BOUND_S * 1000 + 3_000);
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(join(dir, "admin.sock"))).toBe(false);
    expect(daemon.stderr()).toContain(`SIGTERM, shutting down (calls in flight get up to ${BOUND_S} s)`);
    expect(daemon.stderr()).toContain(`shutting down: cut 1 connection still busy after ${BOUND_S} s`);
  });

  it("with nothing in flight, exits at once however long the bound", async () => {
    const dir = tempDir();
    const { daemon, socket } = await start(dir, 60);
    const idle = await RawConnection.open(socket);
    cleanups.push(() => idle.destroy());
    idle.send({ method: "GET", path: "/_ping" });
    expect((await idle.readResponse("GET")).status).toBe(200);
    const signalled = Date.now();
    daemon.child.kill("SIGTERM");
    expect(await withTimeout(daemon.exited, 5_000, "the daemon to exit")).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(2_000);
    expect(idle.peerEnded).toBe(true);
    expect(existsSync(socket)).toBe(false);
  });

  it.each([0, 1])("a hung hook call does not hold the exit past --shutdown-timeout %i", async (BOUND_S) => {
    const dir = tempDir();
    const { daemon, socket, admin } = await start(dir, BOUND_S);
    const hung = await hungAdapter("hung-drain");
    expect((await powerstrip(admin, "load", "--url", hung.adapter.url)).code).toBe(0);
    const version = await rawCollector(socket, "GET /v1.41/version HTTP/1.1\r\nHost: docker\r\n\r\n");
    cleanups.push(() => {
      version.socket.destroy();
    });
    await withTimeout(hung.called, 10_000, "the hung adapter to be called");
    const signalled = Date.now();
    daemon.child.kill("SIGTERM");
    // The adapter's own timeout is 60 s: only the bound (and a margin) may pass.
    expect(await withTimeout(daemon.exited, BOUND_S * 1000 + 5_000, "the daemon to exit")).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(BOUND_S * 1000 + 3_000);
    await version.bytes.waitForEnd(1_000);
  });

  it("a second signal exits at once even with a hook call hung", async () => {
    const dir = tempDir();
    const { daemon, socket, admin } = await start(dir, 60);
    const hung = await hungAdapter("hung-second");
    expect((await powerstrip(admin, "load", "--url", hung.adapter.url)).code).toBe(0);
    const version = await rawCollector(socket, "GET /v1.41/version HTTP/1.1\r\nHost: docker\r\n\r\n");
    cleanups.push(() => {
      version.socket.destroy();
    });
    await withTimeout(hung.called, 10_000, "the hung adapter to be called");
    daemon.child.kill("SIGTERM");
    await said(daemon, /SIGTERM, shutting down/, "the drain to start", 5_000);
    const second = Date.now();
    daemon.child.kill("SIGTERM");
    expect(await withTimeout(daemon.exited, 5_000, "the daemon to exit")).toBe(0);
    expect(Date.now() - second).toBeLessThan(2_000);
    await version.bytes.waitForEnd(1_000);
    expect(daemon.stderr()).toContain("SIGTERM again, shutting down now");
  });

  it("a second signal cuts what is left and exits at once", async () => {
    const dir = tempDir();
    const { daemon, socket } = await start(dir, 60);
    const events = await rawCollector(socket, "GET /v1.41/events HTTP/1.1\r\nHost: docker\r\n\r\n");
    cleanups.push(() => {
      events.socket.destroy();
    });
    await events.bytes.waitFor((b) => b.includes("\r\n\r\n"), 10_000, "the events head");
    daemon.child.kill("SIGTERM");
    await said(daemon, /SIGTERM, shutting down/, "the drain to start", 5_000);
    const second = Date.now();
    daemon.child.kill("SIGINT");
    expect(await withTimeout(daemon.exited, 5_000, "the daemon to exit")).toBe(0);
    expect(Date.now() - second).toBeLessThan(2_000);
    await events.bytes.waitForEnd(1_000);
    expect(daemon.stderr()).toContain("SIGINT again, shutting down now");
  });
});
