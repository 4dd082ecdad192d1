import type { HookCall } from "@powerstrip/protocol";
import { describe, expect, it, vi } from "vitest";
import { defineAdapter } from "./define.js";
import { answerHook } from "./hooks.js";
import { type Logger, silentLogger } from "./logger.js";
import { createSession } from "./session.js";
import type { PostHookContext, PostHookResult, PreHookContext, PreHookResult } from "./types.js";

let preResult: (ctx: PreHookContext) => unknown = () => undefined;
let postResult: (ctx: PostHookContext) => unknown = () => undefined;
const adapter = defineAdapter({
  name: "label-injector",
  hooks: {
    "POST /containers/create": {
      pre: (ctx) => preResult(ctx) as PreHookResult,
      post: (ctx) => postResult(ctx) as PostHookResult,
    },
    "POST /containers/{id}/start": { post: (ctx) => postResult(ctx) as PostHookResult, needsBody: false },
  },
});

const preCall: HookCall = {
  version: "2",
  requestId: "r-1",
  adapter: "label-injector",
  stage: "pre",
  hook: "POST /containers/create",
  request: {
    method: "POST",
    path: "/containers/create",
    apiVersion: "1.41",
    params: {},
    query: { name: "web" },
    headers: { "content-type": "application/json" },
    body: { Image: "nginx", Labels: { team: "web" } },
  },
};
const postCall: HookCall = {
  ...preCall,
  stage: "post",
  response: {
    status: 201,
    headers: { "content-type": "application/json" },
    body: { Id: "abc", Warnings: [] },
    streamed: false,
  },
};
const streamedCall: HookCall = {
  ...postCall,
  hook: "POST /containers/{id}/start",
  request: { ...preCall.request, path: "/containers/abc/start", params: { id: "abc" }, body: undefined },
  response: { status: 101, headers: {}, bodyOmitted: "streamed", streamed: true },
};

function call(message: unknown, log: Logger = silentLogger) {
  return answerHook(createSession(adapter, log), JSON.parse(JSON.stringify(message)));
}

describe("pre-hooks", () => {
  it("get the request in ctx", async () => {
    let seen: PreHookContext | undefined;
    preResult = (ctx) => {
      seen = ctx;
    };
    await call(preCall);
    expect(seen).toMatchObject({
      stage: "pre",
      adapter: "label-injector",
      hook: "POST /containers/create",
      requestId: "r-1",
      method: "POST",
      path: "/containers/create",
      apiVersion: "1.41",
      params: {},
      query: { name: "web" },
      headers: { "content-type": "application/json" },
      body: { Image: "nginx", Labels: { team: "web" } },
      bodyOmitted: undefined,
      config: {},
    });
  });

  it.each<[string, (ctx: PreHookContext) => unknown, unknown]>([
    ["nothing → allow", () => undefined, { action: "allow" }],
    [
      "only warnings → allow with warnings",
      () => ({ warnings: ["w"] }),
      { action: "allow", warnings: ["w"] },
    ],
    ["ctx.deny → deny", (ctx) => ctx.deny(403, "no"), { action: "deny", status: 403, message: "no" }],
    [
      "a body → rewrite",
      (ctx) => ({ body: { ...ctx.body, x: 1 } }),
      { action: "rewrite", body: { Image: "nginx", Labels: { team: "web" }, x: 1 } },
    ],
    [
      "a patch → rewrite",
      () => ({ patch: [{ op: "remove", path: "/Labels" }] }),
      { action: "rewrite", patch: [{ op: "remove", path: "/Labels" }] },
    ],
    [
      "query, headers and path → rewrite, header names lower-cased",
      () => ({
        query: { set: { name: "web-1" } },
        headers: { set: { "X-Meta-Seen": "yes" }, remove: ["X-Meta-Old"] },
        path: "/containers/create",
      }),
      {
        action: "rewrite",
        query: { set: { name: "web-1" } },
        headers: { set: { "x-meta-seen": "yes" }, remove: ["x-meta-old"] },
        path: "/containers/create",
      },
    ],
    ["undefined fields vanish", () => ({ body: undefined, warnings: undefined }), { action: "allow" }],
    [
      "a protocol reply → as is",
      () => ({ action: "rewrite", body: null }),
      { action: "rewrite", body: null },
    ],
    ["an async result", async () => ({ body: 1 }), { action: "rewrite", body: 1 }],
  ])("%s", async (_what, result, reply) => {
    preResult = result;
    expect(await call(preCall)).toEqual({ status: 200, body: reply });
  });
});

describe("post-hooks", () => {
  it("get the request and the response in ctx", async () => {
    let seen: PostHookContext | undefined;
    postResult = (ctx) => {
      seen = ctx;
    };
    await call(streamedCall);
    expect(seen).toMatchObject({
      stage: "post",
      params: { id: "abc" },
      request: { method: "POST", path: "/containers/abc/start", params: { id: "abc" }, body: undefined },
      response: { status: 101, headers: {}, body: undefined, bodyOmitted: "streamed", streamed: true },
    });
  });

  it.each<[string, (ctx: PostHookContext) => unknown, unknown]>([
    ["nothing → pass", () => undefined, { action: "pass" }],
    ["a status → rewrite", () => ({ status: 409 }), { action: "rewrite", status: 409 }],
    [
      "a body with warnings → rewrite",
      (ctx) => ({ body: { ...ctx.response.body, Warnings: ["w"] }, warnings: ["changed"] }),
      { action: "rewrite", body: { Id: "abc", Warnings: ["w"] }, warnings: ["changed"] },
    ],
    [
      "a patch → rewrite",
      () => ({ patch: [{ op: "add", path: "/Warnings/-", value: "w" }] }),
      { action: "rewrite", patch: [{ op: "add", path: "/Warnings/-", value: "w" }] },
    ],
    [
      "headers → rewrite",
      () => ({ headers: { set: { "Content-Type": "text/plain" } } }),
      { action: "rewrite", headers: { set: { "content-type": "text/plain" } } },
    ],
  ])("%s", async (_what, result, reply) => {
    postResult = result;
    expect(await call(postCall)).toEqual({ status: 200, body: reply });
  });

  it("may rewrite a streamed response's headers", async () => {
    postResult = () => ({ headers: { set: { "x-audited": "1" } } });
    expect(await call(streamedCall)).toEqual({
      status: 200,
      body: { action: "rewrite", headers: { set: { "x-audited": "1" } } },
    });
  });
});

describe("adapter failures answer 500 with a message naming the adapter", () => {
  it("a hook that throws, and the error is logged", async () => {
    const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    preResult = () => {
      throw new Error("the registry is down");
    };
    expect(await call(preCall, log)).toEqual({
      status: 500,
      body: { message: "label-injector: the registry is down" },
    });
    expect(log.error).toHaveBeenCalledWith(
      expect.stringMatching(/^pre hook POST \/containers\/create threw: the registry is down \(at /),
    );
  });

  it("an async hook that rejects with a non-Error", async () => {
    preResult = () => Promise.reject("nope");
    expect(await call(preCall)).toEqual({ status: 500, body: { message: "label-injector: nope" } });
  });

  it.each<[string, () => unknown, string]>([
    ["body and patch", () => ({ body: {}, patch: [] }), "(root): body and patch are mutually exclusive"],
    [
      "a deny with a 2xx",
      () => ({ action: "deny", status: 204, message: "x" }),
      "status: must be at least 400",
    ],
    ["an unknown field", () => ({ Body: {} }), "Body: is not a known field"],
    ["a string", () => "allow", "(root): must be an object"],
    ["an unknown action", () => ({ action: "pass" }), 'action: must be one of "allow", "deny", "rewrite"'],
    [
      "a header the proxy owns",
      () => ({ headers: { set: { "Content-Length": "1" } } }),
      'headers.set: key "content-length" must be',
    ],
    [
      "a header outside the allowlist",
      () => ({ headers: { set: { "X-Forwarded-For": "10.0.0.1" } } }),
      'headers.set: key "x-forwarded-for" must be a request header adapters may edit',
    ],
    [
      "a credential header, not having declared credentials",
      () => ({ headers: { remove: ["Authorization"] } }),
      "headers: authorization carries the client's credentials; an adapter edits it only when it declares credentials: true",
    ],
    ["a value JSON cannot carry", () => ({ body: { size: 1n } }), "the returned value is not JSON"],
  ])("a pre-hook returning %s", async (_what, result, problem) => {
    preResult = result;
    const answer = await call(preCall);
    expect(answer.status).toBe(500);
    const { message } = answer.body as { message: string };
    expect(message).toMatch(
      /^label-injector: pre hook POST \/containers\/create returned an invalid reply: /,
    );
    expect(message).toContain(problem);
  });

  it("a patch when the call carried no body", async () => {
    preResult = () => ({ patch: [{ op: "add", path: "/a", value: 1 }] });
    const answer = await call({
      ...preCall,
      request: { ...preCall.request, body: undefined, bodyOmitted: "too-large" },
    });
    expect(answer).toMatchObject({
      status: 500,
      body: {
        message: expect.stringContaining(
          "patch needs the request body, which the call did not carry (bodyOmitted: too-large)",
        ),
      },
    });
  });

  it("a body rewrite of a streamed response", async () => {
    postResult = () => ({ body: {} });
    expect(await call(streamedCall)).toMatchObject({
      status: 500,
      body: { message: expect.stringContaining("a streamed response has no body to rewrite") },
    });
  });
});

describe("calls the adapter cannot take answer 400", () => {
  it("a call against the schema, naming the field", async () => {
    expect(await call({ ...preCall, stage: "during" })).toEqual({
      status: 400,
      body: { message: 'label-injector: invalid hook call: stage: must be one of "pre", "post"' },
    });
  });

  it("a hook the adapter does not implement", async () => {
    expect(await call({ ...preCall, hook: "POST /containers/{id}/start" })).toEqual({
      status: 400,
      body: { message: 'label-injector: no pre hook for "POST /containers/{id}/start"' },
    });
    expect(await call({ ...preCall, hook: "GET /containers/json" })).toMatchObject({ status: 400 });
  });
});
