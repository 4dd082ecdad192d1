import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DockerTarget, isDirectMode, RawConnection, startTestProxy } from "@powerstrip/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// There is no proxy in direct mode, so nothing to test.
describe.skipIf(isDirectMode())("upstream down", () => {
  let dir: string;
  let proxy: DockerTarget;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pst-down-"));
    // A path with nothing listening: every upstream connect fails at once.
    proxy = await startTestProxy({ docker: `unix://${join(dir, "nothing.sock")}` });
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

  it("the docker CLI fails promptly and shows the proxy's message", async () => {
    const result = await proxy.docker(["ps"], { timeoutMs: 15_000 });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Error response from daemon: \S/);
  });
});
