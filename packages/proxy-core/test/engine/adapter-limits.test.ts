import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  isDirectMode,
  openTarget,
  RawConnection,
  removeLabelled,
  testLabels,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeAdapter, type FakeReply, startFakeAdapter } from "../../src/testing/fake-adapter.js";

/**
 * What adapters may do to a request, against the real engine (issue #6): a header edit outside the
 * allowlist fails closed and Docker never sees the call; an allowed one reaches Docker (which
 * answers by it); and a path spelled with escapes still meets the hooks of the call Docker routes.
 */
let proxy: RunningProxy | undefined;
let target: DockerTarget;
const adapters: FakeAdapter[] = [];
const connections: RawConnection[] = [];

beforeAll(async () => {
  target = await openTarget(async (options) => {
    proxy = await startProxy(options);
    return proxy;
  });
});
afterEach(async () => {
  for (const c of connections.splice(0)) c.destroy();
  for (const fake of adapters.splice(0)) {
    await proxy!.hooks.unregister(fake.adapter.name);
    await fake.close();
  }
});
afterAll(async () => {
  await removeLabelled();
  await target?.close();
});

async function hookCreate(name: string, reply: (message: Record<string, unknown>) => FakeReply) {
  const fake = await startFakeAdapter({
    name,
    hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }],
    reply,
  });
  adapters.push(fake);
  proxy!.hooks.register(fake.adapter);
  return fake;
}

async function exists(name: string): Promise<boolean> {
  return (await target.docker(["container", "inspect", name])).code === 0;
}

/** A create sent byte by byte, as a client that writes its own requests would. */
async function rawCreate(path: string, name: string, contentType = "application/json") {
  const c = await RawConnection.open(target.socketPath);
  connections.push(c);
  const body = JSON.stringify({ Image: BASE_IMAGE, Cmd: ["true"], Labels: testLabels() });
  c.send({
    method: "POST",
    path: `${path}?name=${name}`,
    headers: { Host: "docker", "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) },
    body,
  });
  const response = await c.readResponse("POST");
  return { status: response.status, body: response.body.toString() };
}

describe.skipIf(isDirectMode())("header edits through the real engine", () => {
  it("an edit of a header outside the allowlist fails closed, naming it; Docker never sees the call", async () => {
    await hookCreate("meddler", () => ({
      action: "rewrite",
      headers: { set: { "x-forwarded-for": "10.9.8.7" } },
    }));
    const name = uniqueName("fwd");
    const started = Date.now();
    const result = await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"], {
      timeoutMs: 20_000,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'Error response from daemon: powerstrip: adapter "meddler" failed (invalid pre-hook reply: headers.set: key "x-forwarded-for" must be a request header adapters may edit',
    );
    expect(await exists(name)).toBe(false);
  });

  it("an allowed edit reaches Docker: a content-type Docker refuses is refused by Docker itself", async () => {
    await hookCreate("retyper", () => ({
      action: "rewrite",
      headers: { set: { "content-type": "text/plain" } },
    }));
    const name = uniqueName("ctype");
    const result = await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Content-Type specified (text/plain) must be 'application/json'");
    expect(result.stderr).not.toContain("powerstrip");
    expect(await exists(name)).toBe(false);
  });

  it("an allowed edit reaches Docker: a client's wrong content-type, fixed by the adapter, creates", async () => {
    await hookCreate("fixer", () => ({
      action: "rewrite",
      headers: { set: { "content-type": "application/json" } },
    }));
    const name = uniqueName("fixed");
    const created = await rawCreate("/v1.41/containers/create", name, "text/plain");
    expect(created.status).toBe(201);
    expect(await exists(name)).toBe(true);
  });
});

describe.skipIf(isDirectMode())("escaped paths through the real engine", () => {
  it.each(["/v1.41/containers/%63reate", "/%76%31.41/containers%2Fcreate"])(
    "POST %s, which Docker routes as a create, meets the create hook",
    async (path) => {
      const policy = await hookCreate("no-creates", () => ({
        action: "deny",
        status: 403,
        message: "no creates",
      }));
      const name = uniqueName("esc");
      expect(await rawCreate(path, name)).toEqual({ status: 403, body: '{"message":"no creates"}\n' });
      expect(policy.calls).toHaveLength(1);
      expect(await exists(name)).toBe(false);
      // Without the hook, the same bytes create the container: the engine does route them so.
      await proxy!.hooks.unregister("no-creates");
      expect((await rawCreate(path, name)).status).toBe(201);
      expect(await exists(name)).toBe(true);
      proxy!.hooks.register(policy.adapter);
    },
  );
});
