import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProxy } from "@powerstrip/proxy-core";
import { type DockerTarget, isDirectMode, RawConnection, startTestProxy } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// There is no proxy in direct mode, so nothing to test.
describe.skipIf(isDirectMode())("upstream down", () => {
  let dir: string;
  let proxy: DockerTarget;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pst-down-"));
    // A path with nothing listening: every upstream connect fails at once.
    proxy = await startTestProxy(startProxy, { docker: `unix://${join(dir, "nothing.sock")}` });
  });
  afterAll(async () => {
    await proxy?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers promptly with a Docker-style JSON error, 502 or 503", async () => {
    const c = await RawConnection.open(proxy.socketPath);
    try {
      const started = Date.now();
      c.send({ method: "GET", path: "/v1.41/containers/json" });
      const response = await c.readResponse("GET", 5_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect([502, 503]).toContain(response.status);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      const body = JSON.parse(response.body.toString()) as { message?: unknown };
      expect(typeof body.message).toBe("string");
      expect((body.message as string).length).toBeGreaterThan(0);
    } finally {
      c.destroy();
    }
  });

  it("a HEAD gets the error status without a body, and the connection stays in sync", async () => {
    // The docker CLI pings with HEAD first; a body after a HEAD response corrupts the next exchange.
    const c = await RawConnection.open(proxy.socketPath);
    try {
      c.send({ method: "HEAD", path: "/_ping" });
      const head = await c.readResponse("HEAD", 5_000);
      expect([502, 503]).toContain(head.status);
      expect(head.body.length).toBe(0);

      c.send({ method: "GET", path: "/_ping" });
      const get = await c.readResponse("GET", 5_000);
      expect([502, 503]).toContain(get.status);
      expect(typeof (JSON.parse(get.body.toString()) as { message?: unknown }).message).toBe("string");
    } finally {
      c.destroy();
    }
  });

  it("the docker CLI fails promptly and prints the proxy's message, and nothing else", async () => {
    const c = await RawConnection.open(proxy.socketPath);
    c.send({ method: "GET", path: "/v1.41/containers/json" });
    const { message } = JSON.parse((await c.readResponse("GET", 5_000)).body.toString()) as {
      message: string;
    };
    c.destroy();

    const result = await proxy.docker(["ps"], { timeoutMs: 15_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`Error response from daemon: ${message}\n`);
  });
});
