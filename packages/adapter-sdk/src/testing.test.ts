import { applyJsonPatch, validateHookCall } from "@powerstrip/protocol";
import { describe, expect, it } from "vitest";
import { defineAdapter } from "./define.js";
import { AdapterSdkErrorCode } from "./errors.js";
import { buildHookCall, findHook } from "./testing/build-call.js";
import { callPostHook, callPreHook, handshake } from "./testing.js";
import type { PreHookContext } from "./types.js";

let lastPre: PreHookContext | undefined;
const adapter = defineAdapter({
  name: "label-injector",
  configSchema: { type: "object", properties: { label: { type: "string" } } },
  hooks: {
    "POST /containers/create": {
      pre(ctx) {
        lastPre = ctx;
        if (ctx.body?.Image === "bad") return ctx.deny(403, "no bad images");
        if (ctx.body?.Image === "boom") throw new Error("exploded");
        const label = typeof ctx.config.label === "string" ? ctx.config.label : "seen";
        return { patch: [{ op: "add", path: `/Labels/${label}`, value: "yes" }] };
      },
      post(ctx) {
        if (ctx.response.streamed) return { headers: { set: { "X-Streamed": "yes" } } };
        return { body: { ...ctx.response.body, Warnings: [`${ctx.adapter} was here`] } };
      },
    },
    "POST /containers/{id}/start": {
      pre(ctx) {
        return { warnings: [`starting ${ctx.params.id}`] };
      },
      needsBody: false,
    },
    "GET /containers/{id}/json": {
      post(ctx) {
        return ctx.response.bodyOmitted === "not-needed" ? undefined : { status: 500 };
      },
      needsBody: false,
    },
  },
});

describe("handshake()", () => {
  it("returns the reply the proxy gets", async () => {
    expect(await handshake(adapter)).toMatchObject({
      version: "2",
      name: "label-injector",
      hooks: expect.any(Array),
    });
    expect(await handshake(adapter, { name: "labels-prod" })).toMatchObject({ name: "labels-prod" });
  });

  it("throws CALL_FAILED with the status when refused", async () => {
    await expect(handshake(adapter, { versions: ["3"] })).rejects.toMatchObject({
      code: AdapterSdkErrorCode.CallFailed,
      status: 400,
      message: "label-injector: the proxy offers protocol versions 3; this adapter speaks 2",
    });
    await expect(handshake(adapter, { config: { label: 1 } })).rejects.toMatchObject({ status: 400 });
  });
});

describe("callPreHook()", () => {
  const body = { Image: "nginx", Labels: { team: "web" } };

  it("matches with and without a version prefix and returns the validated reply", async () => {
    for (const path of ["/containers/create?name=web", "/v1.41/containers/create?name=web"]) {
      const reply = await callPreHook(adapter, { method: "POST", path, body });
      expect(reply).toEqual({
        action: "rewrite",
        patch: [{ op: "add", path: "/Labels/seen", value: "yes" }],
      });
      if (reply.action === "rewrite")
        expect(applyJsonPatch(body, reply.patch!)).toEqual({
          Image: "nginx",
          Labels: { team: "web", seen: "yes" },
        });
    }
    expect(lastPre).toMatchObject({ path: "/containers/create", apiVersion: "1.41", query: { name: "web" } });
  });

  it("builds the call as the proxy would: query, lower-cased headers, content type", async () => {
    await callPreHook(adapter, {
      method: "post",
      path: "/containers/create?name=web&x=1",
      query: { x: ["1", "2"], single: ["s"] },
      headers: { "User-Agent": "test", Connection: "keep-alive" },
      body,
      requestId: "req-9",
    });
    expect(lastPre).toMatchObject({
      method: "POST",
      requestId: "req-9",
      query: { name: "web", x: ["1", "2"], single: "s" },
      headers: {
        "user-agent": "test",
        "content-type": "application/json",
        "content-length": String(JSON.stringify(body).length),
      },
    });
    expect(lastPre?.headers).not.toHaveProperty("connection");
  });

  it("fills params and leaves out bodies a hook does not need", async () => {
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/v1.41/containers/my%20app/start",
      body: {},
    });
    expect(reply).toEqual({ action: "allow", warnings: ["starting my app"] });
  });

  it("passes config and a name override through the handshake first", async () => {
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/containers/create",
      body,
      config: { label: "owner" },
    });
    expect(reply).toMatchObject({ patch: [{ path: "/Labels/owner" }] });
    await callPreHook(adapter, { method: "POST", path: "/containers/create", body, name: "labels-prod" });
    expect(lastPre?.adapter).toBe("labels-prod");
  });

  it("calls as to a shadow adapter with shadow: true (ctx.shadow), not by default", async () => {
    await callPreHook(adapter, { method: "POST", path: "/containers/create", body: { Image: "x" } });
    expect(lastPre?.shadow).toBe(false);
    await callPreHook(adapter, {
      method: "POST",
      path: "/containers/create",
      body: { Image: "x" },
      shadow: true,
    });
    expect(lastPre?.shadow).toBe(true);
  });

  it("returns a deny", async () => {
    expect(
      await callPreHook(adapter, { method: "POST", path: "/containers/create", body: { Image: "bad" } }),
    ).toEqual({
      action: "deny",
      status: 403,
      message: "no bad images",
    });
  });

  it("throws CALL_FAILED when the hook fails", async () => {
    await expect(
      callPreHook(adapter, { method: "POST", path: "/containers/create", body: { Image: "boom" } }),
    ).rejects.toMatchObject({
      code: AdapterSdkErrorCode.CallFailed,
      status: 500,
      message: "label-injector: exploded",
    });
    // A patch with no body to patch is an adapter failure too.
    await expect(
      callPreHook(adapter, { method: "POST", path: "/containers/create", bodyOmitted: "binary" }),
    ).rejects.toMatchObject({
      status: 500,
      message: expect.stringContaining("patch needs the request body"),
    });
  });

  it("throws NO_MATCHING_HOOK for a request no hook matches", async () => {
    await expect(callPreHook(adapter, { method: "GET", path: "/containers/json" })).rejects.toMatchObject({
      code: AdapterSdkErrorCode.NoMatchingHook,
      message: expect.stringContaining(
        "label-injector has no pre hook matching GET /containers/json (it declares: pre POST /containers/create",
      ),
    });
    await expect(
      callPreHook(adapter, { method: "DELETE", path: "/containers/create" }),
    ).rejects.toMatchObject({
      code: AdapterSdkErrorCode.NoMatchingHook,
    });
  });
});

describe("callPostHook()", () => {
  const request = { method: "POST", path: "/v1.41/containers/create", body: { Image: "nginx" } };

  it("sends the request and Docker's response", async () => {
    const reply = await callPostHook(adapter, {
      request,
      response: { status: 201, body: { Id: "abc", Warnings: [] } },
    });
    expect(reply).toEqual({ action: "rewrite", body: { Id: "abc", Warnings: ["label-injector was here"] } });
  });

  it("sends streamed responses without a body", async () => {
    expect(await callPostHook(adapter, { request, response: { status: 101, streamed: true } })).toEqual({
      action: "rewrite",
      headers: { set: { "x-streamed": "yes" } },
    });
    await expect(
      callPostHook(adapter, { request, response: { streamed: true, body: {} } }),
    ).rejects.toMatchObject({
      code: AdapterSdkErrorCode.InvalidTestCall,
    });
  });

  it("leaves out the response body when the hook does not need it", async () => {
    const reply = await callPostHook(adapter, {
      request: { method: "GET", path: "/containers/abc/json" },
      response: { body: { Id: "abc" } },
    });
    expect(reply).toEqual({ action: "pass" });
  });
});

describe("the calls it builds", () => {
  it("are valid HookCalls", () => {
    const hook = findHook(adapter, "post", { method: "GET", path: "/v1.41/containers/abc/json" });
    const call = buildHookCall(
      "label-injector",
      hook,
      { method: "GET", path: "/v1.41/containers/abc/json?size=1" },
      { status: 404, body: { message: "no such container" } },
    );
    expect(validateHookCall(call)).toMatchObject({ ok: true });
    expect(call).toMatchObject({
      stage: "post",
      hook: "GET /containers/{id}/json",
      request: {
        path: "/containers/abc/json",
        apiVersion: "1.41",
        params: { id: "abc" },
        query: { size: "1" },
      },
      response: { status: 404, bodyOmitted: "not-needed", streamed: false },
    });
  });
});
