import { describe, expect, it } from "vitest";
import { type HookCallRecord, Observers } from "../observe/observer.js";
import type { HookedRequest, HookedResponse } from "./hooked-request.js";
import { type HookedAdapter, HookRegistry, type HookStage, type MatchedHook } from "./registry.js";
import { type ChainContext, runPostHooks, runPreHooks } from "./run-chain.js";
import { MAX_SHADOW_CALLS_IN_FLIGHT } from "./shadow-calls.js";

// The chain without sockets: adapters are in-memory transports, observers collect records.

function adapterOf(
  name: string,
  call: (message: Record<string, unknown>) => unknown,
  options: Partial<HookedAdapter> = {},
): HookedAdapter {
  return {
    name,
    priority: 1000,
    failurePolicy: "fail",
    timeoutMs: 1000,
    protocolVersion: "2",
    hooks: [],
    transport: {
      call: (message) => call(message as Record<string, unknown>) as Promise<unknown>,
      close() {},
    },
    ...options,
  };
}

function matched(adapter: HookedAdapter, stage: HookStage, needsBody = true): MatchedHook {
  const hook = { method: "POST", path: "/containers/create", stage, needsBody };
  adapter.hooks.push(hook);
  return { adapter, hook, pattern: "POST /containers/create", params: {} };
}

function request(): HookedRequest {
  return {
    method: "POST",
    path: "/containers/create",
    apiVersion: "1.41",
    query: [],
    headers: ["Content-Type", "application/json"],
    body: { Image: "debian", Env: ["TOKEN=s3cret"] },
    bodyOmitted: undefined,
    headChanged: false,
    bodyChanged: false,
  };
}

function response(): HookedResponse {
  return {
    status: 200,
    headers: ["Content-Type", "application/json"],
    body: { Id: "abc", Config: { Env: ["TOKEN=s3cret"] } },
    bodyOmitted: undefined,
    streamed: false,
    observed: false,
    changed: false,
  };
}

function watched(): {
  context: ChainContext;
  records: HookCallRecord[];
  next(adapter: string): Promise<HookCallRecord>;
} {
  const observers = new Observers();
  const records: HookCallRecord[] = [];
  const waiting: { adapter: string; resolve: (r: HookCallRecord) => void }[] = [];
  observers.add({
    hookCall(record) {
      records.push(record);
      const at = waiting.findIndex((w) => w.adapter === record.adapter);
      if (at !== -1) waiting.splice(at, 1)[0]!.resolve(record);
    },
    wantsChanges: () => true,
  });
  const context: ChainContext = { requestId: "r1", registry: new HookRegistry(), observers };
  return {
    context,
    records,
    next: (adapter) =>
      new Promise((resolve) => {
        const seen = records.find((r) => r.adapter === adapter);
        if (seen) resolve(seen);
        else waiting.push({ adapter, resolve });
      }),
  };
}

const redactEnv = { action: "rewrite", patch: [{ op: "remove", path: "/Config/Env" }] };

describe("post-hooks", () => {
  it("keep an earlier rewrite when a later v1 post-hook fails under ignore", async () => {
    const { context, records } = watched();
    const redactor = matched(
      adapterOf("redactor", async () => redactEnv),
      "post",
    );
    const broken = matched(
      adapterOf("broken-v1", async () => ({ nonsense: true }), {
        protocolVersion: "1",
        failurePolicy: "ignore",
      }),
      "post",
    );
    const result = await runPostHooks([redactor, broken], request(), response(), context);
    expect(result.changed).toBe(true);
    expect(result.body).toEqual({ Id: "abc", Config: {} });
    expect(records.map((r) => r.decision)).toEqual(["rewrite", "ignored-failure"]);
  });

  it("an observe-only response is not rewritten, nor failed closed: pass and ignored-failure", async () => {
    const { context, records } = watched();
    const rewriter = matched(
      adapterOf("rewriter", async () => ({ action: "rewrite", status: 500 })),
      "post",
    );
    const failing = matched(
      adapterOf("failing", async () => ({ action: "bogus" })),
      "post",
    );
    const observed = { ...response(), body: undefined, bodyOmitted: "not-needed" as const, observed: true };
    const result = await runPostHooks([rewriter, failing], request(), observed, context);
    expect(result).toMatchObject({ status: 200, changed: false });
    expect(records.map((r) => r.decision)).toEqual(["pass", "ignored-failure"]);
  });
});

describe("shadow calls", () => {
  it("record would-rewrite, with the diff, after an earlier live rewrite", async () => {
    const { context, next } = watched();
    const live = matched(
      adapterOf("live", async () => ({
        action: "rewrite",
        patch: [{ op: "add", path: "/Labels", value: {} }],
      })),
      "pre",
    );
    const shadow = matched(
      adapterOf("shadow", async () => ({ action: "rewrite", patch: [{ op: "remove", path: "/Env" }] }), {
        shadow: true,
      }),
      "pre",
    );
    const outcome = await runPreHooks([live, shadow], request(), context);
    expect(outcome.kind).toBe("forward");
    const record = await next("shadow");
    expect(record).toMatchObject({ decision: "would-rewrite", shadow: true, changes: ["body -/Env"] });
  });

  it("a transport that throws at once neither fails the call nor keeps unregister waiting", async () => {
    const { context, next } = watched();
    const thrower = adapterOf(
      "thrower",
      () => {
        throw new Error("socket gone");
      },
      { shadow: true },
    );
    context.registry.register(thrower);
    const pre = matched(thrower, "pre");
    const post = matched(thrower, "post");
    await expect(runPreHooks([pre], request(), context)).resolves.toMatchObject({ kind: "forward" });
    await expect(runPostHooks([post], request(), response(), context)).resolves.toMatchObject({
      changed: false,
    });
    expect(await next("thrower")).toMatchObject({
      decision: "would-fail",
      failure: { kind: "invalid-reply" },
    });
    const unregistered = await Promise.race([
      context.registry.unregister("thrower").then(() => "done"),
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 500)),
    ]);
    expect(unregistered).toBe("done");
  });

  it(`are capped at ${MAX_SHADOW_CALLS_IN_FLIGHT} in flight per adapter; the rest are skipped and recorded`, async () => {
    const { context, records } = watched();
    const pending: (() => void)[] = [];
    const slow = adapterOf(
      "slow",
      () => new Promise((resolve) => pending.push(() => resolve({ action: "allow" }))),
      { shadow: true },
    );
    const hook = matched(slow, "pre");
    for (let i = 0; i < MAX_SHADOW_CALLS_IN_FLIGHT + 2; i++) await runPreHooks([hook], request(), context);
    expect(pending).toHaveLength(MAX_SHADOW_CALLS_IN_FLIGHT);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ decision: "ignored-failure", failure: { kind: "overloaded" } });
    // Once they are answered, calls go through again.
    for (const answer of pending.splice(0)) answer();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await runPreHooks([hook], request(), context);
    expect(pending).toHaveLength(1);
    pending[0]!();
  });
});
