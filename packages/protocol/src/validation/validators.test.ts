import { describe, expect, it } from "vitest";
import { readExample } from "../../scripts/embed-examples.js";
import { ProtocolError, ProtocolErrorCode } from "../errors.js";
import {
  assertValid,
  type Validator,
  validateAdapterInfo,
  validateErrorReply,
  validateHandshakeReply,
  validateHandshakeRequest,
  validateHookCall,
  validateJsonPatch,
  validateLegacyAdaptersFile,
  validateLegacyPreHookCall,
  validateLegacyPreHookReply,
  validateLoadRequest,
  validatePostHookReply,
  validatePreHookReply,
} from "./validators.js";

const example = (file: string) => JSON.parse(readExample(file));
const reply = example("v2/handshake-reply/label-injector.json");
const preCall = example("v2/hook-call/pre-create.json");
const postCall = example("v2/hook-call/post-create.json");
const hook = { method: "POST", path: "/containers/create", stage: "pre" };

/** [what, validator, message, the error line expected among the errors] */
const mistakes: Array<[string, Validator<unknown>, unknown, string]> = [
  // handshake
  [
    "no versions offered",
    validateHandshakeRequest,
    { protocol: "powerstrip", versions: [], proxy: { version: "0.1.0" } },
    "versions: must not be empty",
  ],
  [
    "a numeric version",
    validateHandshakeRequest,
    { protocol: "powerstrip", versions: [2], proxy: { version: "0.1.0" } },
    "versions[0]: must be a string",
  ],
  [
    "the wrong protocol",
    validateHandshakeRequest,
    { protocol: "docker", versions: ["2"], proxy: { version: "1" } },
    'protocol: must be "powerstrip"',
  ],
  ["a version number", validateHandshakeReply, { ...reply, version: 2 }, 'version: must be "2"'],
  ["no name", validateHandshakeReply, { version: "2", hooks: [] }, "name: is required"],
  [
    "an upper-case name",
    validateHandshakeReply,
    { ...reply, name: "Label-Injector" },
    `name: must be lower-case letters, digits, '_', '.' and '-', starting with a letter or digit, at most 63 characters (got "Label-Injector")`,
  ],
  ["no hooks list", validateHandshakeReply, { version: "2", name: "x" }, "hooks: is required"],
  [
    "a stage typo",
    validateHandshakeReply,
    { ...reply, hooks: [{ ...hook, stage: "before" }] },
    'hooks[0].stage: must be one of "pre", "post"',
  ],
  [
    "a lower-case method",
    validateHandshakeReply,
    { ...reply, hooks: [{ ...hook, method: "post" }] },
    'hooks[0].method: must be an upper-case HTTP method such as POST, or * for any method (got "post")',
  ],
  [
    "a versioned path",
    validateHandshakeReply,
    { ...reply, hooks: [{ ...hook, path: "/v1.41/containers/create" }] },
    "hooks[0].path: must be a path pattern",
  ],
  [
    "a path without /",
    validateHandshakeReply,
    { ...reply, hooks: [{ ...hook, path: "containers/create" }] },
    "hooks[0].path: must be a path pattern",
  ],
  [
    "a misspelled field",
    validateHandshakeReply,
    { ...reply, hooks: [{ ...hook, needBody: true }] },
    "hooks[0].needBody: is not a known field",
  ],
  [
    "a repeated hook",
    validateHandshakeReply,
    { ...reply, hooks: [hook, { ...hook, needsBody: false }] },
    "hooks[1]: repeats hooks[0] (pre POST /containers/create)",
  ],
  [
    "a repeated param",
    validateHandshakeReply,
    { ...reply, hooks: [{ ...hook, path: "/a/{id}/b/{id}" }] },
    'hooks[0].path: hook pattern "POST /a/{id}/b/{id}": {id} appears twice',
  ],
  [
    "a priority too high",
    validateHandshakeReply,
    { ...reply, priority: 10001 },
    "priority: must be at most 10000",
  ],
  [
    "a fractional priority",
    validateHandshakeReply,
    { ...reply, priority: 1.5 },
    "priority: must be an integer",
  ],
  ["a zero timeout", validateHandshakeReply, { ...reply, timeoutMs: 0 }, "timeoutMs: must be at least 1"],
  [
    "an unknown policy",
    validateHandshakeReply,
    { ...reply, failurePolicy: "open" },
    'failurePolicy: must be one of "fail", "ignore"',
  ],
  // hook calls
  [
    "a pre call with a response",
    validateHookCall,
    { ...preCall, response: postCall.response },
    "response: is only sent to post-hooks",
  ],
  [
    "a post call without response",
    validateHookCall,
    { ...postCall, response: undefined },
    "response: is required",
  ],
  [
    "body with bodyOmitted",
    validateHookCall,
    { ...preCall, request: { ...preCall.request, bodyOmitted: "binary" } },
    "request: body and bodyOmitted are mutually exclusive",
  ],
  [
    "a single repeated query value",
    validateHookCall,
    { ...preCall, request: { ...preCall.request, query: { t: ["a"] } } },
    "request.query.t: must have at least 2 items",
  ],
  [
    "a numeric query value",
    validateHookCall,
    { ...preCall, request: { ...preCall.request, query: { all: 1 } } },
    "request.query.all: must be a string or an array",
  ],
  [
    "an upper-case header name",
    validateHookCall,
    { ...preCall, request: { ...preCall.request, headers: { "Content-Type": "x" } } },
    'request.headers: key "Content-Type" must be a string matching',
  ],
  [
    "a missing apiVersion",
    validateHookCall,
    { ...preCall, request: { ...preCall.request, apiVersion: undefined } },
    "request.apiVersion: is required",
  ],
  [
    "a streamed body",
    validateHookCall,
    { ...postCall, response: { ...postCall.response, streamed: true } },
    "response.body: a streamed response has no body",
  ],
  [
    "a hook without method",
    validateHookCall,
    { ...preCall, hook: "/containers/create" },
    "hook: must be a method, one space and a path pattern",
  ],
  // pre-hook replies
  [
    "an unknown action",
    validatePreHookReply,
    { action: "accept" },
    'action: must be one of "allow", "deny", "rewrite"',
  ],
  ["no action", validatePreHookReply, { body: {} }, "action: is required"],
  ["a deny without message", validatePreHookReply, { action: "deny", status: 403 }, "message: is required"],
  [
    "a deny with a 2xx",
    validatePreHookReply,
    { action: "deny", status: 200, message: "no" },
    "status: must be at least 400",
  ],
  [
    "an empty rewrite",
    validatePreHookReply,
    { action: "rewrite", warnings: ["x"] },
    "(root): must have at least one of body, patch, query, headers, path",
  ],
  [
    "body and patch",
    validatePreHookReply,
    { action: "rewrite", body: {}, patch: [] },
    "(root): body and patch are mutually exclusive",
  ],
  ["an allow with a body", validatePreHookReply, { action: "allow", body: {} }, "body: is not a known field"],
  [
    "a path with ..",
    validatePreHookReply,
    { action: "rewrite", path: "/containers/../x" },
    "path: must be a path starting with '/'",
  ],
  [
    "a path with a query",
    validatePreHookReply,
    { action: "rewrite", path: "/containers/json?all=1" },
    "path: must be a path starting with '/'",
  ],
  [
    "a path with //",
    validatePreHookReply,
    { action: "rewrite", path: "//containers" },
    "path: must be a path starting with '/'",
  ],
  [
    "a content-length edit",
    validatePreHookReply,
    { action: "rewrite", headers: { set: { "content-length": "1" } } },
    'headers.set: key "content-length" must be a request header adapters may edit: content-type, user-agent or x-meta-*',
  ],
  [
    "a host removal",
    validatePreHookReply,
    { action: "rewrite", headers: { remove: ["host"] } },
    "headers.remove[0]: must be a request header adapters may edit",
  ],
  [
    "a header value with a newline",
    validatePreHookReply,
    { action: "rewrite", headers: { set: { "x-meta-a": "1\r\nx-b: 2" } } },
    'headers.set["x-meta-a"]: must be a header value of visible ASCII',
  ],
  [
    "a header value whose characters would be sent as CR LF (U+010D U+010A)",
    validatePreHookReply,
    { action: "rewrite", headers: { set: { "x-meta-a": "1\u010d\u010ax-b: 2" } } },
    'headers.set["x-meta-a"]: must be a header value of visible ASCII',
  ],
  [
    "a response content-length edit",
    validatePostHookReply,
    { action: "rewrite", headers: { set: { "content-length": "1" } } },
    'headers.set: key "content-length" must be a lower-case response header name other than the ones the proxy manages',
  ],
  [
    "a path with an escaped .. segment",
    validatePreHookReply,
    { action: "rewrite", path: "/containers/%2E%2e/x" },
    "path: must be a path starting with '/'",
  ],
  [
    "a path with a character that is not sent as itself (U+0120 would go out as a space)",
    validatePreHookReply,
    { action: "rewrite", path: "/_ping\u0120HTTP/1.1" },
    "path: must be a path starting with '/'",
  ],
  [
    "an absolute URL as the path",
    validatePreHookReply,
    { action: "rewrite", path: "http://evil.example/containers/create" },
    "path: must be a path starting with '/'",
  ],
  [
    "empty header edits",
    validatePreHookReply,
    { action: "rewrite", headers: {} },
    "headers: must not be empty",
  ],
  [
    "a query set to a number",
    validatePreHookReply,
    { action: "rewrite", query: { set: { all: 1 } } },
    "query.set.all: must be a string or an array",
  ],
  [
    "a patch op typo",
    validatePreHookReply,
    { action: "rewrite", patch: [{ op: "ad", path: "/a", value: 1 }] },
    'patch[0].op: must be one of "add", "remove", "replace", "move", "copy", "test"',
  ],
  [
    "a patch without value",
    validatePreHookReply,
    { action: "rewrite", patch: [{ op: "replace", path: "/a" }] },
    "patch[0].value: is required",
  ],
  [
    "a warning that is not a string",
    validatePreHookReply,
    { action: "allow", warnings: [1] },
    "warnings[0]: must be a string",
  ],
  // post-hook replies
  [
    "an allow after Docker",
    validatePostHookReply,
    { action: "allow" },
    'action: must be one of "pass", "rewrite"',
  ],
  [
    "a status out of range",
    validatePostHookReply,
    { action: "rewrite", status: 600 },
    "status: must be at most 599",
  ],
  [
    "an empty post rewrite",
    validatePostHookReply,
    { action: "rewrite" },
    "(root): must have at least one of status, headers, body, patch",
  ],
  // JSON Patch
  [
    "a pointer without /",
    validateJsonPatch,
    [{ op: "remove", path: "a" }],
    "[0].path: must be an RFC 6901 JSON Pointer",
  ],
  ["a move without from", validateJsonPatch, [{ op: "move", path: "/a" }], "[0].from: is required"],
  [
    "an extra member",
    validateJsonPatch,
    [{ op: "remove", path: "/a", value: 1 }],
    "[0].value: is not a known field",
  ],
  // others
  ["an error without message", validateErrorReply, { error: "x" }, "message: is required"],
  [
    "a legacy numeric body",
    validateLegacyPreHookCall,
    {
      PowerstripProtocolVersion: 1,
      Type: "pre-hook",
      ClientRequest: { Method: "POST", Request: "/x", Body: {} },
    },
    "ClientRequest.Body: must be a string",
  ],
  [
    "a legacy version string",
    validateLegacyPreHookReply,
    { PowerstripProtocolVersion: "1", ModifiedClientRequest: { Method: "POST", Request: "/x", Body: null } },
    "PowerstripProtocolVersion: must be 1",
  ],
  [
    "an undefined legacy adapter",
    validateLegacyAdaptersFile,
    { endpoints: { "POST /*/containers/create": { pre: ["weave"] } }, adapters: {} },
    'endpoints["POST /*/containers/create"].pre[0]: adapter "weave" is not defined under adapters',
  ],
  [
    "a legacy endpoint stage typo",
    validateLegacyAdaptersFile,
    { endpoints: { "/*/containers/create": { before: ["weave"] } }, adapters: { weave: "http://weave/" } },
    'endpoints["/*/containers/create"].before: is not a known field',
  ],
  [
    "both url and image",
    validateLoadRequest,
    { url: "unix:///a.sock", image: "a" },
    "(root): must have exactly one of url, image",
  ],
  [
    "legacy without hooks",
    validateLoadRequest,
    { url: "http://flocker/", legacy: true },
    "hooks: is required",
  ],
  [
    "hooks without legacy",
    validateLoadRequest,
    { image: "a", hooks: ["pre:POST /x"] },
    "hooks: are only for legacy adapters (legacy: true)",
  ],
  [
    "a tcp url",
    validateLoadRequest,
    { url: "tcp://127.0.0.1:1" },
    "url: must be unix:///absolute/path.sock or http://host",
  ],
  [
    "a date that is not one",
    validateAdapterInfo,
    { ...example("admin/v1/adapter-info/ready.json"), since: "yesterday" },
    'since: must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z (got "yesterday")',
  ],
  [
    "an unknown state",
    validateAdapterInfo,
    { ...example("admin/v1/adapter-info/ready.json"), state: "running" },
    'state: must be one of "loading", "ready", "failed", "unloading"',
  ],
];

describe("typical mistakes are refused with a message naming the field", () => {
  it.each(mistakes)("%s", (_what, validate, message, expected) => {
    const result = validate(message);
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    expect(
      errors.some((line) => line.startsWith(expected)),
      `${JSON.stringify(errors)} has no line starting ${expected}`,
    ).toBe(true);
  });

  it("reports every problem at once", () => {
    const result = validateHandshakeReply({
      version: "2",
      name: "X",
      hooks: [{ method: "post", path: "x", stage: "?" }],
    });
    expect(result.ok ? [] : result.errors).toHaveLength(4);
  });

  it("names the root when the message is not an object", () => {
    expect(validateHookCall("hello")).toEqual({ ok: false, errors: ["(root): must be an object"] });
    expect(validatePreHookReply(null)).toMatchObject({ ok: false, errors: ["(root): must be an object"] });
  });
});

describe("assertValid", () => {
  it("returns the value of a valid message", () => {
    expect(assertValid(validatePreHookReply({ action: "allow" }), "pre-hook reply")).toEqual({
      action: "allow",
    });
  });

  it("throws INVALID_MESSAGE with every line", () => {
    const attempt = () => assertValid(validatePreHookReply({ action: "deny" }), "pre-hook reply");
    expect(attempt).toThrow(ProtocolError);
    expect(attempt).toThrow("pre-hook reply: status: is required; message: is required");
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({
        code: ProtocolErrorCode.InvalidMessage,
        errors: ["status: is required", "message: is required"],
      });
    }
  });
});
