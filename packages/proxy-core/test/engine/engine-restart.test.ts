// The Docker engine restarted under live streams.
//
// Why a forwarder: restarting the machine's dockerd would break every other test and engineer
// sharing it. To the proxy, an engine restart is its upstream socket misbehaving: every open
// connection is cut at once, then connects are refused (the socket file is gone), then the socket
// answers again. A tiny net.Server that pipes to the real /var/run/docker.sock, which the test
// kills (destroying every connection it carries and removing its socket) and starts again on the
// same path, gives the proxy exactly that, with the real engine behind it.
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  DIRECT_SOCKET,
  type DockerTarget,
  dockerodeFor,
  isDirectMode,
  RawConnection,
  removeLabelled,
  StreamCollector,
  startTestProxy,
  testLabels,
  uniqueName,
  withTimeout,
} from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** A socket that forwards to the engine, which a test can kill and bring back. */
class EngineForwarder {
  private server: Server | null = null;
  private readonly open = new Set<Socket>();

  constructor(readonly path: string) {}

  async start(): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (client) => {
      const engine = connect({ path: DIRECT_SOCKET, allowHalfOpen: true });
      for (const socket of [client, engine]) {
        this.open.add(socket);
        socket.on("error", () => {});
        socket.once("close", () => this.open.delete(socket));
      }
      client.pipe(engine);
      engine.pipe(client);
      client.once("close", () => engine.destroy());
      engine.once("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.server = server;
  }

  /** The engine dies: every connection is cut, the socket file goes, connects are refused. */
  async kill(): Promise<void> {
    const server = this.server!;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.open) socket.destroy();
    await closed;
  }
}

const engine = dockerodeFor(DIRECT_SOCKET);

describe.skipIf(isDirectMode())("the engine restarted under live streams", () => {
  let dir: string;
  let forwarder: EngineForwarder;
  let proxy: RunningProxy;
  let target: DockerTarget;
  let ticker: string;
  let catter: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pst-restart-"));
    forwarder = new EngineForwarder(join(dir, "engine.sock"));
    await forwarder.start();
    target = await startTestProxy(
      async (options) => {
        proxy = await startProxy(options);
        return proxy;
      },
      { docker: `unix://${forwarder.path}` },
    );
    const run = async (cmd: string[], extra: object = {}) => {
      const container = await engine.createContainer({
        name: uniqueName("restart"),
        Image: BASE_IMAGE,
        Cmd: cmd,
        Labels: testLabels(),
        ...extra,
      });
      await container.start();
      return container.id;
    };
    ticker = await run(["sh", "-c", "while :; do echo tick; sleep 0.2; done"]);
    catter = await run(["cat"], { OpenStdin: true, AttachStdin: true, AttachStdout: true });
  });
  afterAll(async () => {
    await target?.close();
    await removeLabelled();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("open streams end instead of hanging, calls fail promptly while it is down, and work once it is back", async () => {
    // Live: docker events and docker logs -f (CLI), a raw chunked events stream, an attach
    // tunnel, and an idle keep-alive connection whose engine connection sits in the pool.
    const events = target.spawnDocker(["events", "--format", "{{.Action}}"], { timeoutMs: 30_000 });
    const logs = target.spawnDocker(["logs", "-f", ticker], { timeoutMs: 30_000 });
    await logs.waitForStdout(/tick/, 10_000);

    const raw = connect({ path: target.socketPath });
    const rawBytes = new StreamCollector(raw);
    raw.on("error", () => {});
    raw.write("GET /v1.41/events HTTP/1.1\r\nHost: docker\r\n\r\n");
    await rawBytes.waitFor((b) => b.includes("\r\n\r\n"), 10_000, "the events head");

    const attach = connect({ path: target.socketPath });
    const attachBytes = new StreamCollector(attach);
    attach.on("error", () => {});
    attach.write(
      `POST /v1.41/containers/${catter}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n` +
        "Host: docker\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n",
    );
    await attachBytes.waitFor((b) => b.includes("\r\n\r\n"), 10_000, "the 101");
    expect(attachBytes.bytes().toString()).toMatch(/^HTTP\/1\.1 101 /);
    attach.write("echo-before\n");
    await attachBytes.waitFor((b) => b.includes("echo-before"), 5_000, "the echo through the tunnel");

    const idle = await RawConnection.open(target.socketPath);
    idle.send({ method: "GET", path: "/v1.41/version" });
    expect((await idle.readResponse("GET")).status).toBe(200);

    // Let the events stream show it is live before the engine goes.
    await engine.getContainer(ticker).pause();
    await engine.getContainer(ticker).unpause();
    await events.waitForStdout(/unpause/, 10_000);

    const killed = Date.now();
    await forwarder.kill();

    // Every stream ends within moments: the clients see the cut, none of them hangs.
    const [eventsExit, logsExit] = await Promise.all([
      withTimeout(events.exited, 5_000, "docker events to end"),
      withTimeout(logs.exited, 5_000, "docker logs -f to end"),
      rawBytes.waitForEnd(5_000),
      attachBytes.waitForEnd(5_000),
    ]);
    expect(Date.now() - killed).toBeLessThan(5_000);
    // The docker CLI reports the cut as an error; what matters is that it returned.
    expect(eventsExit.signal).toBeNull();
    expect(logsExit.signal).toBeNull();
    // A raw chunked stream cut mid-body: no terminating zero-size chunk, so no false "complete".
    expect(rawBytes.bytes().toString()).not.toMatch(/\r\n0\r\n\r\n$/);

    // While it is down: a prompt Docker-shaped 503 naming the engine, on the kept-alive connection too.
    const started = Date.now();
    idle.send({ method: "GET", path: "/v1.41/version" });
    const down = await idle.readResponse("GET", 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body.toString())).toEqual({
      message: `powerstrip cannot reach the Docker engine at unix://${forwarder.path}: ENOENT`,
    });
    const cli = await target.docker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 15_000 });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("powerstrip cannot reach the Docker engine at");

    // Back: new calls work through the same proxy, new streams too, with no restart of the proxy.
    await forwarder.start();
    idle.send({ method: "GET", path: "/v1.41/version" });
    expect((await idle.readResponse("GET", 5_000)).status).toBe(200);
    const ps = await target.docker(["ps", "-q", "--no-trunc", "--filter", `id=${ticker}`]);
    expect(ps).toMatchObject({ code: 0, stderr: "" });
    expect(ps.stdout.toString().trim()).toBe(ticker);
    const again = target.spawnDocker(["logs", "-f", "--since", "0s", ticker], { timeoutMs: 30_000 });
    await again.waitForStdout(/tick/, 10_000);
    again.child.kill("SIGTERM");
    await withTimeout(again.exited, 5_000, "docker logs -f to stop");
    idle.destroy();
    raw.destroy();
    attach.destroy();
  });
});
