import { type RunningProxy, startProxy } from "@powerstrip/proxy-core";
import {
  BASE_IMAGE,
  containerFlags,
  type DockerTarget,
  isDirectMode,
  openTarget,
  removeLabelled,
  uniqueName,
} from "@powerstrip/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeAdapter, type FakeReply, startFakeAdapter } from "../../src/testing/fake-adapter.js";

/**
 * Every way an adapter can fail, under both failure policies, seen from the real docker CLI
 * through the proxy: "fail" refuses the call promptly with a message naming the adapter and the
 * engine never sees it; "ignore" lets it through as if the adapter were not there.
 */
let proxy: RunningProxy | undefined;
let target: DockerTarget;
const adapters: FakeAdapter[] = [];

beforeAll(async () => {
  target = await openTarget(async (options) => {
    proxy = await startProxy(options);
    return proxy;
  });
});
afterEach(async () => {
  for (const fake of adapters.splice(0)) {
    await proxy!.hooks.unregister(fake.adapter.name);
    await fake.close();
  }
});
afterAll(async () => {
  await removeLabelled();
  await target?.close();
});

const failures: [string, FakeReply, RegExp][] = [
  ["a timeout", { hang: true }, /timed out after 300 ms/],
  [
    "a hook that throws (HTTP 500)",
    { raw: '{"message":"label-injector: boom"}', status: 500 },
    /HTTP 500: label-injector: boom/,
  ],
  ["a crash mid-call", { destroy: true }, /cannot reach it|socket hang up/],
  ["a non-JSON reply", { raw: "<html>oops</html>" }, /reply is not JSON/],
  ["a reply against the schema", { action: "rewrite" }, /invalid pre-hook reply/],
];

async function hookCreate(name: string, failurePolicy: "fail" | "ignore", reply: FakeReply): Promise<void> {
  const fake = await startFakeAdapter({
    name,
    failurePolicy,
    timeoutMs: 300,
    hooks: [{ method: "POST", path: "/containers/create", stage: "pre" }],
    reply: () => reply,
  });
  adapters.push(fake);
  proxy!.hooks.register(fake.adapter);
}

describe.skipIf(isDirectMode())("adapter failures seen by the docker CLI", () => {
  it.each(failures)(
    "fail closed on %s: a prompt error naming the adapter, nothing created",
    async (_, reply, detail) => {
      await hookCreate("strict", "fail", reply);
      const name = uniqueName("fail");
      const started = Date.now();
      const result = await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"], {
        timeoutMs: 20_000,
      });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/Error response from daemon: powerstrip: adapter "strict" failed/);
      expect(result.stderr).toMatch(detail);
      const inspect = await target.docker(["inspect", name]);
      expect(inspect.code).toBe(1); // the engine never saw the create
    },
  );

  it.each(failures)("skip the adapter on %s when its policy is ignore", async (_, reply) => {
    await hookCreate("lenient", "ignore", reply);
    const name = uniqueName("ignore");
    const result = await target.docker(["create", ...containerFlags(name), BASE_IMAGE, "true"], {
      timeoutMs: 20_000,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect((await target.docker(["inspect", name])).code).toBe(0);
  });
});
