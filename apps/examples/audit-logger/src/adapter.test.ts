import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { callPostHook, callPreHook, handshake } from "@powerstrip/adapter-sdk/testing";
import { describe, expect, it, onTestFinished } from "vitest";
import { AUDITED_HOOKS, type AuditRecord, auditLogger, auditSink } from "./adapter.js";

const TIME = new Date("2025-06-01T09:30:00.000Z");

function recorded() {
  const lines: string[] = [];
  const adapter = auditLogger({ sink: (line) => lines.push(line), now: () => TIME });
  return { adapter, records: () => lines.map((line) => JSON.parse(line) as AuditRecord) };
}

/** Two hook paths overlap when some request path matches both. */
function overlap(a: { method: string; path: string }, b: { method: string; path: string }): boolean {
  if (a.method !== "*" && b.method !== "*" && a.method !== b.method) return false;
  const sa = a.path.split("/");
  const sb = b.path.split("/");
  const wild = (s: string) => s === "*" || s.startsWith("{");
  return sa.length === sb.length && sa.every((s, i) => wild(s) || wild(sb[i]!) || s === sb[i]);
}

describe("audit-logger: declaration", () => {
  const { adapter } = recorded();

  it("hooks pre and post of every audited key, without bodies, last in, first out, ignored on failure", async () => {
    const reply = await handshake(adapter);
    expect(reply).toMatchObject({
      name: "audit-logger",
      priority: 10000,
      failurePolicy: "ignore",
      timeoutMs: 1000,
    });
    expect(reply.hooks).toHaveLength(AUDITED_HOOKS.length * 2);
    expect(reply.hooks.every((h) => h.needsBody === false)).toBe(true);
    expect(reply.hooks.filter((h) => h.stage === "pre").map((h) => `${h.method} ${h.path}`)).toEqual([
      ...AUDITED_HOOKS,
    ]);
  });

  it("has no two keys that match the same request, so no call is logged twice", () => {
    const pre = adapter.hooks.filter((h) => h.stage === "pre");
    const pairs = pre.flatMap((a, i) =>
      pre
        .slice(i + 1)
        .filter((b) => overlap(a, b))
        .map((b) => `${a.key} / ${b.key}`),
    );
    expect(pairs).toEqual([]);
  });

  it.each([
    ["POST", "/v1.41/containers/create?name=web", "POST /containers/create"],
    ["POST", "/v1.41/containers/abc/start", "POST /containers/{id}/start"],
    ["POST", "/v1.41/containers/abc/attach?stream=1", "POST /containers/{id}/attach"],
    ["PUT", "/v1.41/containers/abc/archive?path=/", "* /containers/{id}/archive"],
    ["HEAD", "/v1.41/containers/abc/archive?path=/", "* /containers/{id}/archive"],
    ["DELETE", "/v1.41/containers/abc?force=1", "DELETE /containers/{id}"],
    ["POST", "/v1.41/exec/e1/start", "* /exec/{id}/*"],
    ["POST", "/v1.41/images/create?fromImage=nginx&tag=latest", "POST /images/create"],
    ["POST", "/v1.41/build?t=app", "POST /build"],
    ["DELETE", "/v1.41/images/nginx:latest", "DELETE /images/{name}"],
    ["DELETE", "/v1.41/images/team/app:1", "DELETE /images/{namespace}/{name}"],
    [
      "POST",
      "/v1.41/images/registry.local:5000/team/app/push?tag=1",
      "POST /images/{registry}/{namespace}/{name}/push",
    ],
    ["POST", "/v1.41/networks/n1/connect", "POST /networks/{id}/*"],
  ])("logs %s %s under %s", async (method, path, hook) => {
    const { adapter, records } = recorded();
    await expect(callPreHook(adapter, { method, path })).resolves.toEqual({ action: "allow" });
    expect(records()).toMatchObject([{ stage: "pre", hook, method }]);
  });

  it.each([
    ["GET", "/v1.41/containers/json"],
    ["GET", "/v1.41/containers/abc/json"],
    ["POST", "/v1.41/containers/abc/wait?condition=next-exit"],
  ])("does not hook %s %s", async (method, path) => {
    const { adapter } = recorded();
    await expect(callPreHook(adapter, { method, path })).rejects.toMatchObject({ code: "NO_MATCHING_HOOK" });
  });
});

describe("audit-logger: lines", () => {
  it("writes the request, never its body, on the way in", async () => {
    const { adapter, records } = recorded();
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/v1.41/containers/create?name=web",
      body: { Image: "nginx", Env: ["SECRET=1"] },
      headers: { "User-Agent": "Docker-Client/28.2.2 (linux)" },
      requestId: "req-1",
    });
    expect(reply).toEqual({ action: "allow" });
    expect(records()).toEqual([
      {
        time: "2025-06-01T09:30:00.000Z",
        requestId: "req-1",
        stage: "pre",
        hook: "POST /containers/create",
        method: "POST",
        path: "/containers/create",
        apiVersion: "1.41",
        params: {},
        query: { name: "web" },
        userAgent: "Docker-Client/28.2.2 (linux)",
      },
    ]);
  });

  it("writes Docker's status on the way out, with the same request id and the path parameters", async () => {
    const { adapter, records } = recorded();
    const reply = await callPostHook(adapter, {
      request: { method: "POST", path: "/v1.41/containers/4fa6/stop?t=3" },
      response: { status: 304 },
      requestId: "req-2",
    });
    expect(reply).toEqual({ action: "pass" });
    expect(records()).toEqual([
      {
        time: "2025-06-01T09:30:00.000Z",
        requestId: "req-2",
        stage: "post",
        hook: "POST /containers/{id}/stop",
        method: "POST",
        path: "/containers/4fa6/stop",
        apiVersion: "1.41",
        params: { id: "4fa6" },
        query: { t: "3" },
        status: 304,
        streamed: false,
      },
    ]);
  });

  it("marks streamed responses", async () => {
    const { adapter, records } = recorded();
    await callPostHook(adapter, {
      request: { method: "POST", path: "/containers/abc/attach?stream=1" },
      response: { status: 101, streamed: true },
    });
    expect(records()).toMatchObject([{ stage: "post", status: 101, streamed: true, apiVersion: null }]);
  });

  it("fails the call when the log cannot be written (the proxy then ignores it)", async () => {
    const adapter = auditLogger({
      sink: () => {
        throw new Error("disk full");
      },
    });
    await expect(callPreHook(adapter, { method: "POST", path: "/containers/create" })).rejects.toMatchObject({
      code: "CALL_FAILED",
      message: "audit-logger: disk full",
    });
  });
});

describe("auditSink", () => {
  it("writes lines to stdout and appends them to AUDIT_LOG", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pst-audit-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "audit.log");
    const stdout = new PassThrough();
    const chunks: string[] = [];
    stdout.on("data", (c: Buffer) => chunks.push(c.toString()));
    const sink = auditSink({ file, stdout });
    sink('{"a":1}');
    sink('{"b":2}');
    sink.close();
    const fileOnly = auditSink({ file, stdout: null });
    fileOnly('{"c":3}');
    fileOnly.close();
    expect(readFileSync(file, "utf8")).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
    expect(chunks.join("")).toBe('{"a":1}\n{"b":2}\n');
  });

  it("refuses at once a file it cannot open", () => {
    expect(() => auditSink({ file: "/nonexistent-dir/audit.log", stdout: null })).toThrow(/ENOENT/);
  });
});
