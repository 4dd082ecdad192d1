import { describe, expect, it } from "vitest";
import type { HookedRequest, HookedResponse } from "../hooks/hooked-request.js";
import { requestChanges, responseChanges } from "./changes.js";

function request(overrides: Partial<HookedRequest> = {}): HookedRequest {
  return {
    method: "POST",
    path: "/containers/create",
    apiVersion: "1.41",
    query: [["name", "web"]],
    headers: ["Content-Type", "application/json", "X-Foo", "1"],
    body: { Image: "debian", HostConfig: { Privileged: true }, Env: ["A=1"] },
    bodyOmitted: undefined,
    headChanged: false,
    bodyChanged: false,
    ...overrides,
  };
}

describe("requestChanges: one compact line per change", () => {
  it("body values, additions and removals as JSON pointers; query and header edits", () => {
    const before = request();
    const after: HookedRequest = {
      ...before,
      query: [
        ["name", "web"],
        ["all", "1"],
      ],
      headers: ["Content-Type", "application/json"],
      body: { Image: "debian", HostConfig: { Privileged: false }, Labels: { "a/b": "x" } },
    };
    expect(requestChanges(before, after)).toEqual([
      "query +all=1",
      "header -x-foo: 1",
      "body /HostConfig/Privileged: true → false",
      "body -/Env",
      'body +/Labels: {"a/b":"x"}',
    ]);
  });

  it("nothing changed: no lines (fields kept by reference are not compared)", () => {
    const before = request();
    expect(requestChanges(before, { ...before })).toEqual([]);
    expect(requestChanges(before, { ...before, body: structuredClone(before.body) })).toEqual([]);
  });

  it("credential header values are masked, an edit of one still shows", () => {
    const before = request({
      headers: ["X-Registry-Auth", "c2VjcmV0LW9sZA==", "Authorization", "Bearer old"],
    });
    const after = {
      ...before,
      headers: [
        "X-Registry-Auth",
        "c2VjcmV0LW5ldw==",
        "authorization",
        "Bearer old",
        "X-Registry-Config",
        "e30=",
      ],
    };
    const lines = requestChanges(before, after);
    expect(lines).toEqual([
      "header -x-registry-auth: (redacted)",
      "header +x-registry-auth: (redacted)",
      "header +x-registry-config: (redacted)",
    ]);
    expect(lines.join("\n")).not.toMatch(/c2VjcmV0|Bearer|e30=/);
  });

  it("path and method; long values are cut", () => {
    const before = request({ body: { Cmd: "short" } });
    const after = { ...before, method: "PUT", path: "/containers/x", body: { Cmd: "y".repeat(200) } };
    const lines = requestChanges(before, after);
    expect(lines.slice(0, 2)).toEqual(["method POST → PUT", "path /containers/create → /containers/x"]);
    expect(lines[2]!.length).toBeLessThan(120);
    expect(lines[2]).toMatch(/^body \/Cmd: "short" → "y+…$/);
  });
});

describe("responseChanges", () => {
  it("status, headers and body", () => {
    const before: HookedResponse = {
      status: 200,
      headers: ["Content-Type", "application/json"],
      body: { Id: "abc", Warnings: [] },
      bodyOmitted: undefined,
      streamed: false,
      observed: false,
      changed: false,
    };
    const after = { ...before, status: 403, body: { message: "no" } };
    expect(responseChanges(before, after)).toEqual([
      "status 200 → 403",
      "body -/Id",
      "body -/Warnings",
      'body +/message: "no"',
    ]);
  });
});
